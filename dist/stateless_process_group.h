// StatelessProcessGroup: a metadata/object channel between the ranks of an
// MPI communicator, re-created from fastvideo.distributed.utils.
//
// What it promises:
// - Forming a group is collective over its members only: a group of some
//   ranks of a communicator is formed without the others taking part, and
//   groups (overlapping or not) live side by side; each has its own
//   duplicated communicator and window, so nothing crosses between groups.
// - send_obj returns at once while there is room: a small object goes
//   straight into the reader's memory (its inbox), a larger one (or one
//   whose reader's inbox is full) into the sender's window segment;
//   otherwise it waits for readers, up to its deadline. A message to
//   oneself stays in memory, at any size.
// - recv_obj returns the messages of one (src, dst) pair in send order; many
//   senders to one receiver never mix. broadcast_obj / all_gather_obj are
//   in order per source; every member must make the same collective calls in
//   the same order (a mismatch is reported, not mis-delivered).
// - Every blocking call takes a deadline (default: options.default_timeout,
//   counted from when the call first has to wait); running out gives
//   DeadlineExceeded naming the group, this rank, the peer and the key. A
//   payload of the wrong type gives InvalidArgument and stays queued for
//   the next receive from that peer; a corrupt one gives DataLoss; an
//   expired one NotFound.
// - Memory: a message's space is reclaimed as soon as every reader has
//   read it (acknowledgements of chunks up to 64 KiB and consumed inbox
//   slots go back when their reader next waits or a quarter of the inbox is
//   consumed; what was read before barrier() is reclaimed when it returns),
//   or after data_expiration (see expire_data()).
// Costs: a small object is one MPI_Put for its sender and no MPI call for a
// reader that finds it there; a large one costs its reader an MPI_Get for
// the descriptor and one per chunk, and an atomic acknowledgement. One of
// 256 KiB or more that fits in a chunk is encoded straight into the
// sender's window and decoded straight out of it (one copy per side).
// barrier() is one round of stores on shared memory (see
// barrier_algorithm.h for the others).
// Threads: use a group from one thread at a time. Progress: with osc/pt2pt
// (TCP), one-sided operations reach a member only while it is in an MPI
// call; call progress() from long compute loops if peers wait on you.
// Lifetime: destruction (or Close()) is collective over the members, and
// bounded: members that never come are left behind (see Close).
#ifndef FASTVIDEO_DIST_STATELESS_PROCESS_GROUP_H_
#define FASTVIDEO_DIST_STATELESS_PROCESS_GROUP_H_

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "dist/barrier_algorithm.h"
#include "dist/channel_stats.h"
#include "dist/codec.h"
#include "dist/message_key.h"

namespace at {
class Tensor;
}  // namespace at

namespace fastvideo {
namespace dist {
class Lifelines;
}  // namespace dist

struct GroupOptions {
  // Shown in errors and logs; empty: derived from the member ranks.
  std::string name;
  // How long published data is kept for readers that have not read it.
  int64_t data_expiration_seconds = 3600;
  // Size of each member's window segment.
  uint64_t window_bytes = uint64_t{32} << 20;
  // Messages to one reader (or broadcasts) that may wait unread before
  // send_obj waits; 0: as many as a quarter of the window holds (16..1024).
  uint64_t ring_slots = 0;
  // Largest chunk of a message in the window; 0: a quarter of the data area.
  uint64_t max_chunk_bytes = 0;
  // Inboxes: a message whose encoded form fits half an inbox (less 48 bytes
  // of header) is pushed straight into its reader's memory, over as many
  // slots as it needs; each writer has inbox_slots of them per reader, for
  // send_obj and for collectives. They take world_size x 2 x (1.5 x
  // inbox_slots - 1) x inbox_slot_bytes of each member's window (half an
  // inbox more lets a record that starts in the last slots run on).
  // inbox_slot_bytes 0: the largest multiple of 64 from 256 to 1024 with
  // which inboxes take at most an eighth of window_bytes. With 32 MiB: 1 KiB
  // slots up to 89 ranks (objects up to 8 KiB pushed, 46 KiB per peer),
  // 256 bytes from 356 ranks (2000 bytes pushed, 11.5 KiB per peer).
  uint64_t inbox_slots = 16;
  uint64_t inbox_slot_bytes = 0;
  // Deadline of blocking calls that are not given one, counted from when
  // the call first has to wait.
  absl::Duration default_timeout = absl::Minutes(5);
  // The clock of expiration bookkeeping (tests inject a fake one).
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // Hash every chunk and check it on arrival (costs two passes over large
  // objects). Off: descriptors are still sealed and re-checked.
  bool verify_payloads = false;
  // How barrier() meets (see barrier_algorithm.h); kAuto chooses by the
  // member count and the transport. Must be the same on every member.
  BarrierAlgorithm barrier_algorithm = BarrierAlgorithm::kAuto;
};

enum class ReduceOp { kSum, kProduct, kMin, kMax };

class StatelessProcessGroup {
 public:
  using Deadline = std::optional<absl::Time>;

  // Collective over `parent`: a group of all its ranks. If some rank does
  // not call before `deadline` (default: options.default_timeout from now),
  // the others get DeadlineExceeded naming it (see dist/internal/roll_call.h
  // for what that leaves behind).
  static absl::StatusOr<StatelessProcessGroup> Create(MPI_Comm parent,
                                                      GroupOptions options = {},
                                                      Deadline deadline = {});
  // Collective over the listed ranks of `parent` only; group rank i is
  // parent rank ranks[i]. Ranks outside the list do not call anything. A
  // listed rank that does not call before `deadline` is named as in Create.
  static absl::StatusOr<StatelessProcessGroup> CreateFromRanks(MPI_Comm parent,
                                                               std::vector<int> ranks,
                                                               GroupOptions options = {},
                                                               Deadline deadline = {});

  // The original's create(host, port, rank, world_size): one group of
  // processes that may belong to separately launched MPI jobs. Each caller
  // states its group rank; every process of `job` must call (with its own
  // rank), and a job may hold any of the group's ranks. Group rank 0 listens
  // on host:port (that address only: an IPv4 or IPv6 literal or a name)
  // until every rank has joined, then the jobs connect over MPI
  // (MPI_Comm_accept/connect, which in Open MPI needs one ompi-server all
  // jobs point to: see fastvideo-ompi-server and fastvideo-mpilaunch
  // --ompi-server). The group is then the same as one made by Create(comm),
  // named host:port unless options.name says otherwise. Errors, each naming
  // host:port: DeadlineExceeded (not every rank joined before `deadline`,
  // default options.default_timeout from now, saying which are missing),
  // AlreadyExists (the port is taken), InvalidArgument (a rank claimed
  // twice or out of range, callers disagreeing on world_size),
  // FailedPrecondition (this MPI runtime cannot connect jobs, saying how).
  static absl::StatusOr<StatelessProcessGroup> Create(const std::string& host, int port,
                                                      int rank, int world_size,
                                                      GroupOptions options = {},
                                                      MPI_Comm job = MPI_COMM_WORLD,
                                                      Deadline deadline = {});

  StatelessProcessGroup(StatelessProcessGroup&&) noexcept;
  StatelessProcessGroup& operator=(StatelessProcessGroup&&) noexcept;
  ~StatelessProcessGroup();

  // Collective: frees the window and the communicator; unread messages are
  // dropped. Later calls fail with FailedPrecondition. The members first
  // meet (until `deadline`, default options.default_timeout), each in its
  // Close: a member's barrier() meets only barriers, so Close against
  // barrier() fails both with FailedPrecondition naming the two. If some
  // never come (their job died) or the calls mismatched (now or in an
  // earlier barrier), the group is abandoned instead of freed (nothing
  // collective is called, so nothing hangs; its memory stays allocated
  // until the process exits) and Close returns Unavailable naming who did
  // not come, or FailedPrecondition naming the mismatch, without waiting
  // for members that already left. A new group can be formed right after.
  absl::Status Close(Deadline deadline = {});

  int rank() const;
  int world_size() const;
  const std::string& name() const;
  // Rank in the parent communicator of each group rank.
  const std::vector<int>& parent_ranks() const;
  MPI_Comm comm() const;

  template <typename T>
  absl::Status send_obj(const T& obj, int dst, Deadline deadline = {}) {
    if (absl::Status status = CheckPeer("send_obj", dst); !status.ok()) return status;
    return PublishObject(dist::MessageKind::kSend, dst, obj, deadline);
  }

  template <typename T>
  absl::StatusOr<T> recv_obj(int src, Deadline deadline = {}) {
    T obj{};
    if (absl::Status status = recv_obj_into(obj, src, deadline); !status.ok()) {
      return status;
    }
    return obj;
  }

  // recv_obj into an existing object, reusing what it holds (a vector's
  // capacity, say): the way to receive large objects at full speed.
  template <typename T>
  absl::Status recv_obj_into(T& obj, int src, Deadline deadline = {}) {
    return ReceiveInto(dist::MessageKind::kSend, src, deadline, obj);
  }

  // On `src`, publishes `obj` and returns it; elsewhere `obj` is ignored and
  // the source's object is returned.
  template <typename T>
  absl::StatusOr<T> broadcast_obj(const T& obj, int src, Deadline deadline = {}) {
    if (absl::Status status = CheckPeer("broadcast_obj", src); !status.ok()) {
      return status;
    }
    if (rank() == src) {
      absl::Status status = PublishObject(dist::MessageKind::kBroadcast,
                                          dist::MessageKey::kEveryRank, obj, deadline);
      if (!status.ok()) return status;
      return obj;
    }
    T received{};
    absl::Status status =
        ReceiveInto(dist::MessageKind::kBroadcast, src, deadline, received);
    if (!status.ok()) return status;
    return received;
  }

  // Every member's `obj`, indexed by group rank.
  template <typename T>
  absl::StatusOr<std::vector<T>> all_gather_obj(const T& obj, Deadline deadline = {}) {
    if (absl::Status status = CheckUsable("all_gather_obj"); !status.ok()) return status;
    absl::Status status = PublishObject(dist::MessageKind::kAllGather,
                                        dist::MessageKey::kEveryRank, obj, deadline);
    if (!status.ok()) return status;
    if (status = AwaitAllGather(deadline); !status.ok()) return status;
    std::vector<T> gathered(world_size());
    for (int src = 0; src < world_size(); ++src) {
      if (src == rank()) {
        gathered[src] = obj;
        continue;
      }
      status = ReceiveInto(dist::MessageKind::kAllGather, src, deadline, gathered[src]);
      if (!status.ok()) return status;
    }
    return gathered;
  }

  // No member leaves before every member has entered. One that runs out of
  // time (DeadlineExceeded naming the member it waits for) stays pending:
  // the next barrier() resumes it instead of entering a new one.
  absl::Status barrier(Deadline deadline = {});

  // Drops what this member published more than data_expiration_seconds ago.
  absl::Status expire_data();
  // Reclaims acknowledged space and lets MPI progress; cheap.
  absl::Status progress();

  // The original's bookkeeping: messages per peer, and what is published
  // and not yet reclaimed, as (key, publication time) in publication order.
  std::vector<uint64_t> send_dst_counter() const;
  std::vector<uint64_t> recv_src_counter() const;
  uint64_t broadcast_send_counter() const;
  std::vector<uint64_t> broadcast_recv_src_counter() const;
  std::vector<std::pair<std::string, absl::Time>> entries() const;
  int64_t data_expiration_seconds() const;
  dist::ChannelStats stats() const;

  // Tensor conveniences (dist/stateless_process_group_tensor.cc).
  absl::Status send(const at::Tensor& tensor, int dst, Deadline deadline = {});
  // Receives into `tensor`, which must have the sender's shape and dtype
  // (otherwise InvalidArgument, and the message stays queued); a large
  // tensor lands in its storage straight from the sender's window. On
  // error its contents are unspecified.
  absl::Status recv(at::Tensor& tensor, int src, Deadline deadline = {});
  absl::Status broadcast(at::Tensor& tensor, int src, Deadline deadline = {});
  // Reduces every member's tensor into each member's `tensor`, in rank
  // order (the same result everywhere).
  absl::Status all_reduce(at::Tensor& tensor, ReduceOp op = ReduceOp::kSum,
                          Deadline deadline = {});

 private:
  struct Impl;
  explicit StatelessProcessGroup(std::unique_ptr<Impl> impl);
  // Builds a group on `comm`, which it takes over (and frees on failure);
  // a group across jobs also takes its members' lifelines.
  static absl::StatusOr<StatelessProcessGroup> FromOwnedComm(
      MPI_Comm comm, std::vector<int> parent_ranks, GroupOptions options,
      std::shared_ptr<dist::Lifelines> lifelines = nullptr);

  absl::Status CheckUsable(const char* call) const;
  absl::Status CheckPeer(const char* call, int peer) const;
  // recv/broadcast into a tensor: it must be defined.
  absl::Status CheckDestination(const at::Tensor& tensor, const char* call, int src) const;
  // Reused buffers: encoded objects on their way out, payloads on their way
  // in (large objects would otherwise fault fresh pages on every call).
  std::string& send_buffer();
  std::string& receive_buffer();
  // Publishes send_buffer() to `dst` (or MessageKey::kEveryRank).
  absl::Status Publish(dist::MessageKind kind, int dst, Deadline deadline);
  // Publishes a `size`-byte payload that `encode(destination)` writes,
  // straight into the window when it fits in one chunk.
  absl::Status PublishEncoded(dist::MessageKind kind, int dst, uint64_t size,
                              absl::FunctionRef<bool(char*)> encode, Deadline deadline);

  // Encodes `obj` for `dst`: a large object whose codec knows its size
  // goes straight into the window, anything else through send_buffer().
  template <typename T>
  absl::Status PublishObject(dist::MessageKind kind, int dst, const T& obj,
                             Deadline deadline) {
    if constexpr (dist::kHasEncodedSize<T>) {
      const uint64_t size = dist::FramedSize(obj);
      if (size >= dist::kInPlaceBytes) {
        return PublishEncoded(
            kind, dst, size,
            [&obj, size](char* destination) { return dist::EncodeInto(obj, destination, size); },
            deadline);
      }
    }
    dist::EncodeTo(obj, &send_buffer());
    return Publish(kind, dst, deadline);
  }
  // Puts the next payload of `kind` from `src` (a held one first) into
  // receive_buffer(), or hands a large one to `in_place` straight from the
  // window (*read_in_place; see WindowChannel::Fetch).
  absl::Status TakePayload(dist::MessageKind kind, int src, Deadline deadline,
                           dist::InPlaceReader* in_place, bool* read_in_place);
  // Waits for every other member's all_gather part at once (see
  // WindowChannel::AwaitPublished), so that fetching them costs no round
  // trip per member.
  absl::Status AwaitAllGather(Deadline deadline);
  // Keeps receive_buffer() after it was asked for as the wrong type.
  void HoldPayload(dist::MessageKind kind, int src);
  std::string Describe(dist::MessageKind kind, int src) const;

  template <typename T>
  absl::Status ReceiveInto(dist::MessageKind kind, int src, Deadline deadline, T& obj) {
    dist::InPlaceDecoder<T> in_place(obj);
    bool read_in_place = false;
    absl::Status status = TakePayload(kind, src, deadline, &in_place, &read_in_place);
    if (read_in_place && !status.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat(Describe(kind, src), ": ", status.message()));
    }
    if (read_in_place || !status.ok()) return status;
    status = dist::DecodeInto(receive_buffer(), obj);
    if (status.ok()) return status;
    const std::string where = Describe(kind, src);
    if (absl::IsInvalidArgument(status)) {
      HoldPayload(kind, src);
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ", status.message(),
                       "; the message stays queued for the next receive"));
    }
    return absl::Status(status.code(), absl::StrCat(where, ": ", status.message()));
  }

  std::unique_ptr<Impl> impl_;
};

}  // namespace fastvideo

#endif  // FASTVIDEO_DIST_STATELESS_PROCESS_GROUP_H_
