// WindowChannel: the byte-level object channel of a StatelessProcessGroup,
// built on one MPI window (MPI_Win_allocate) over the group's communicator.
// The protocol (every word of a segment, who writes it and how) is
// described once, in segment_layout.h; every remote access goes through
// the Rma layer (internal/rma.h).
//
// Two paths, one order per stream:
// - Push: a message whose framed payload fits an inbox slot (208 bytes by
//   default) is put by its sender, sealed, straight into the reader's own
//   inbox with one MPI_Put; the reader consumes it from its own memory and
//   hands slots back as credit, a quarter of an inbox at a time.
// - Pull: a larger message, or one whose writer has no credit, is
//   published in the sender's own segment (chunked, with a descriptor per
//   chunk) and the reader is told by a word pushed into its segment; it
//   then pulls the chunks with MPI_Get and acknowledges them with an
//   atomic MPI_Accumulate (completed at once when it frees more than
//   64 KiB, else when the reader next waits, enters a barrier or calls
//   Progress()); the publisher reclaims a block once every intended reader
//   has acknowledged it, or when it expires (expire_data).
// A message to oneself never touches the window.
// Streams: one per (publisher, reader) pair for send/recv, one per
// publisher for broadcast and all_gather; each is in order across paths.
//
// Not thread-safe: use a channel from one thread at a time. Progress: under
// osc/pt2pt (TCP), a reader's MPI_Get completes, and a pushed record lands,
// only while the other side is inside an MPI call; a member that computes
// for long without calling into MPI stalls its peers (call Progress() now
// and then).
#ifndef FASTVIDEO_DIST_WINDOW_CHANNEL_H_
#define FASTVIDEO_DIST_WINDOW_CHANNEL_H_

#include <mpi.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "dist/backoff.h"
#include "dist/block_allocator.h"
#include "dist/byte_source.h"
#include "dist/channel_stats.h"
#include "dist/deadline.h"
#include "dist/internal/inbox.h"
#include "dist/internal/mpi_rma.h"
#include "dist/message_key.h"
#include "dist/segment_layout.h"

namespace fastvideo::dist {

struct ChannelOptions {
  std::string name = "group";
  // The parent rank of each member, named in errors beside the group rank.
  std::vector<int> parent_ranks;
  uint64_t segment_bytes = uint64_t{64} << 20;
  // Descriptors per stream: how many messages to one reader (or broadcasts)
  // may wait unread. 0: a quarter of the segment, from 16 to 1024.
  uint64_t ring_slots = 0;
  uint64_t max_chunk_bytes = 0;       // 0: a quarter of the data area
  // Inbox slots per (writer, stream) and their size: each member's segment
  // holds world_size x 2 x slots x slot_bytes of inboxes (8 KiB per peer
  // with the defaults).
  InboxShape inbox;
  absl::Duration data_expiration = absl::Seconds(3600);
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // Hash every chunk and check it on arrival (DataLoss if it differs). Off
  // by default: descriptors are always sealed, and a reader re-checks a
  // chunk's descriptor after reading it, which catches a chunk that expired
  // (and was reused) while it was being read.
  bool verify_payloads = false;
};

class WindowChannel {
 public:
  // Collective over `comm`, which the channel takes over: it is freed by
  // Close(), or before Create returns an error. Every member must pass the
  // same segment_bytes, ring_slots and inbox shape.
  static absl::StatusOr<std::unique_ptr<WindowChannel>> Create(
      MPI_Comm comm, ChannelOptions options);

  WindowChannel(const WindowChannel&) = delete;
  WindowChannel& operator=(const WindowChannel&) = delete;
  // Calls Close() if it was not called; collective like it.
  ~WindowChannel();

  // Collective: ends the epoch, frees the window and the communicator.
  // Unread messages are dropped.
  absl::Status Close();

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  MPI_Comm comm() const { return comm_; }

  // Publishes `bytes` to `dst` (kind kSend), or to every other member
  // (dst == MessageKey::kEveryRank, kinds kBroadcast / kAllGather). Returns
  // once the last chunk is in the segment. Waits for room up to `deadline`,
  // then fails with ResourceExhausted naming the readers that hold it up;
  // a message cut short that way is withdrawn, never half-delivered.
  absl::Status Publish(MessageKind kind, int dst, absl::string_view bytes,
                       Deadline deadline);

  // The same for a message of `size` bytes that `write(destination, offset,
  // bytes)` puts, chunk by chunk, straight into this member's segment. It
  // may refuse (false): then nothing is published and Publish returns
  // InternalError.
  using ChunkWriter =
      absl::FunctionRef<bool(char* destination, uint64_t offset, uint64_t bytes)>;
  absl::Status Publish(MessageKind kind, int dst, uint64_t size, ChunkWriter write,
                       Deadline deadline);
  // Messages up to this size go in one chunk.
  uint64_t max_chunk_bytes() const { return max_chunk_bytes_; }

  // Fetches the next message of `kind` published by `src` for this rank.
  // DeadlineExceeded names the key it waited for; NotFound says the message
  // expired at the publisher before it was read; FailedPrecondition a
  // message of another kind (calls that do not match across ranks);
  // DataLoss a chunk whose bytes do not match their hash.
  // The message replaces `message`'s contents (its capacity is reused).
  //
  // With `in_place`, a message of one chunk of at least kInPlaceBytes goes
  // to it straight from the publisher's window instead (one copy fewer);
  // *read_in_place says so, and Fetch returns its status. If it fails with
  // InvalidArgument (asked for as the wrong type), the message is copied
  // into `message` as well and Fetch returns OK with *read_in_place false,
  // so that the caller can keep it.
  absl::Status Fetch(MessageKind kind, int src, Deadline deadline,
                     std::string* message, InPlaceReader* in_place = nullptr,
                     bool* read_in_place = nullptr);

  // Waits until each of `srcs` has published its next message of `kind`
  // for this rank, polling them all in one round (an MPI_Get each, then one
  // MPI_Win_flush_local_all) instead of one round trip after another, and
  // keeps what it read for the Fetch calls that follow. Returns early, OK,
  // when a source published a message of another kind: the Fetch from it
  // says so. DeadlineExceeded names the key of the first source still
  // silent and the other silent ranks.
  absl::Status AwaitPublished(MessageKind kind, absl::Span<const int> srcs,
                              Deadline deadline);

  // Dissemination barrier: ceil(log2(world_size)) rounds of one atomic add
  // and one wait each.
  absl::Status Barrier(Deadline deadline);

  // Reclaims what readers acknowledged and publishes any pending withdrawal
  // marker; lets MPI progress (see the class comment).
  absl::Status Progress();

  // Drops the data of messages published more than data_expiration ago
  // (oldest first); readers that come later get NotFound.
  absl::Status ExpireData();

  // What this member has published and not reclaimed yet: (key, time), in
  // publication order.
  std::vector<std::pair<std::string, absl::Time>> entries() const;
  const ChannelStats& stats() const { return stats_; }
  absl::Duration data_expiration() const { return options_.data_expiration; }
  const SegmentLayout& layout() const { return layout_; }

  // Messages sent to / received from each rank, and broadcast streams.
  uint64_t send_count(int dst) const { return p2p_out_[dst].next_message; }
  uint64_t recv_count(int src) const { return p2p_in_[src].next_message; }
  uint64_t broadcast_send_count() const { return bcast_out_.next_message; }
  uint64_t broadcast_recv_count(int src) const { return bcast_in_[src].next_message; }

 private:
  struct PendingChunk {
    uint64_t slot;
    uint64_t data_offset;  // Descriptor::kInline when inline
    uint64_t bytes;
    uint64_t entry_id;
    bool live;  // false once expired: data freed, still awaiting the ack
  };
  struct OutStream {
    uint64_t next_slot = 0;
    uint64_t next_message = 0;
    std::deque<PendingChunk> pending;  // published, not yet acknowledged
    std::optional<uint64_t> withdrawn_message;  // marker still to publish
    MessageKind withdrawn_kind = MessageKind::kSend;  // its kind, for errors
  };
  struct InStream {
    uint64_t next_slot = 0;     // in the publisher's ring (pull path)
    uint64_t next_message = 0;  // across both paths
    // The descriptor at next_slot, once read (it may belong to a later
    // message than next_message, which then comes pushed).
    std::optional<Descriptor> awaited;
    // The first chunks of a pulled message read ahead (see ReadAhead).
    struct ReadAheadMessage {
      std::string bytes;
      uint64_t next_offset = 0;
    };
    std::optional<ReadAheadMessage> read_ahead;
  };
  // A message sent to this member itself.
  struct SelfMessage {
    std::string bytes;
    uint64_t entry_id;
    absl::Time time;
    std::optional<absl::Time> expired_at;
  };
  // Where the next message of a stream is, once it is here.
  enum class Path { kPushed, kPulled };
  struct Located {
    Path path;
    MessageKind kind;
    RecordHeader record;  // of a pushed message
  };
  struct Entry {
    MessageKey key;
    absl::Time time;
    uint64_t live_chunks = 0;
    bool open = false;  // still being published: kept even if all was read
  };

  WindowChannel(MPI_Comm comm, ChannelOptions options, SegmentLayout layout);
  // Allocates and locks the window (collective); Close() undoes whatever
  // of it was done.
  absl::Status OpenWindow();

  std::string Where() const;  // "group 'name' rank r/n (parent rank p)"
  // "rank r", with its parent rank when that differs (a subgroup).
  std::string RankName(int rank) const;
  OutStream& out_stream(int dst) {
    return dst == MessageKey::kEveryRank ? bcast_out_ : p2p_out_[dst];
  }
  uint64_t descriptor_offset(int dst, uint64_t slot) const;
  InStream& in_stream(MessageKind kind, int src) {
    return kind == MessageKind::kSend ? p2p_in_[src] : bcast_in_[src];
  }
  // Where a publisher keeps the descriptor at ring `slot` of its stream of
  // `kind` to this rank, and the word this rank acknowledges it in; the key
  // of that stream's next message from `src`.
  uint64_t incoming_descriptor(MessageKind kind, uint64_t slot) const;
  uint64_t incoming_acked(MessageKind kind) const;
  MessageKey incoming_key(MessageKind kind, int src) const;
  unsigned char* local(uint64_t offset) { return base_ + offset; }

  // Publishing a message that fits an inbox slot, when every reader has
  // credit: false (nothing done) otherwise.
  absl::StatusOr<bool> TryPush(const MessageKey& key, uint64_t size, ChunkWriter write,
                               absl::Time now);
  absl::Status PublishToSelf(const MessageKey& key, uint64_t size, ChunkWriter write,
                             absl::Time now);
  absl::Status FetchFromSelf(std::string* message, Deadline& deadline);
  // Tells the reader(s) of `dst`'s pull ring how many descriptors it holds.
  absl::Status NotifyReaders(int dst, uint64_t published_slots);
  uint64_t AddEntry(const MessageKey& key, absl::Time now);
  void ReleaseRecord(const PushedRecord& record, bool by_expiration);
  // Waits until `stream` has a free ring slot and, for non-inline chunks,
  // `bytes` of data space. Returns the block offset (kInline if inline).
  absl::StatusOr<uint64_t> WaitForRoom(int dst, uint64_t bytes,
                                       const MessageKey& key,
                                       Deadline& deadline);
  // Writes one chunk's data (with `write`) and then its descriptor into
  // this member's segment; false, with nothing published, if `write`
  // refused.
  bool WriteChunk(int dst, const Descriptor& descriptor, ChunkWriter write);
  // Publishes the marker of a message withdrawn part-way, if any.
  absl::Status PublishWithdrawal(int dst, Deadline& deadline);
  absl::Status ExpireDataAt(absl::Time now);
  absl::Status ReadAcks(std::vector<uint64_t>* acked);
  void Release(PendingChunk& chunk, bool by_expiration);
  void PopFinishedEntries();
  std::string Laggards(int dst, uint64_t slot,
                       const std::vector<uint64_t>& acked) const;

  // Where the next message of `kind` from `src` is, if it is here yet; may
  // read (and keep) a descriptor announced on the pull path.
  absl::StatusOr<std::optional<Located>> TryLocate(MessageKind kind, int src);
  absl::Status FailedKindError(MessageKind kind, int src, MessageKind found) const;
  // Takes the pushed message at the head of `src`'s inbox.
  absl::Status FetchPushed(MessageKind kind, int src, RecordHeader header,
                           std::string* message);
  // Takes the pulled message at `src`'s ring, chunk by chunk; *withdrawn
  // when it turned out withdrawn by its publisher (look again).
  absl::Status FetchPulled(MessageKind kind, int src, Deadline& deadline, std::string* message,
                           InPlaceReader* in_place, bool* read_in_place, bool* withdrawn);
  // Reads the descriptor at the reader's next ring slot of `src` into the
  // stream's `awaited`, once `src` has announced it; whether it is there.
  absl::StatusOr<bool> TryDescriptor(MessageKind kind, int src);
  // While this member waits for room to publish an all_gather part, it
  // reads (and acknowledges) the chunks of the other members' parts that
  // are there, so that parts larger than the window cannot deadlock: every
  // member waits for room only while it goes on freeing the others'.
  absl::Status ReadAhead(MessageKind kind);
  // Hands a one-chunk message to `in_place` (see Fetch).
  absl::Status FetchInPlace(MessageKind kind, int src, const Descriptor& descriptor,
                            InStream& stream, std::string* message,
                            InPlaceReader* in_place, bool* read_in_place);
  // After reading a chunk's data: whether its publisher expired (and may
  // have reused) it meanwhile, setting *expired_ns. Only a chunk old enough
  // to expire soon is looked at again (one more round trip over TCP).
  absl::StatusOr<bool> ExpiredWhileRead(int src, uint64_t descriptor_offset,
                                        const Descriptor& descriptor,
                                        uint64_t* expired_ns);
  absl::Status ExpiredError(const MessageKey& key, uint64_t published_ns,
                            uint64_t expired_ns) const;
  absl::Status WaitForDescriptor(MessageKind kind, int src, Deadline& deadline);
  // What a descriptor read from ring slot `slot` says: not published yet
  // (an older one, or torn by its owner's rewrite: read it again), there,
  // or already overwritten by a later slot (InternalError naming the key).
  enum class Arrival { kNotYet, kArrived };
  absl::StatusOr<Arrival> CheckArrival(const Descriptor& descriptor, uint64_t slot,
                                       int src, const MessageKey& key) const;
  // DeadlineExceeded for `key`; `also_silent` ("rank 3", "ranks 3, 5")
  // names other sources waited for in vain.
  absl::Status NothingPublishedError(const MessageKey& key, int src,
                                     absl::string_view also_silent) const;
  // Acknowledges up to `value` in `src`'s segment, which frees a ring slot
  // and `frees_bytes` of data there. An ack that frees more than
  // kMaxDeferredAckChunkBytes is completed at once; a smaller one by
  // CompleteAcks, which every wait, Barrier() and Progress() call first,
  // or once max_deferred_acks_ or max_deferred_ack_bytes_ are pending.
  static constexpr uint64_t kMaxDeferredAckChunkBytes = 64 << 10;
  absl::Status Acknowledge(int src, uint64_t ack_offset, uint64_t value,
                           uint64_t frees_bytes);
  // kOnItsWay: locally complete (MPI_Win_flush_local_all), enough for a
  // publisher to see them soon without this member waiting for it;
  // kAtTarget: landed (MPI_Win_flush_all), as barrier() promises.
  enum class Completion { kOnItsWay, kAtTarget };
  absl::Status CompleteAcks(Completion completion);
  // One pause of a waiting loop: completes deferred acks (and, once the
  // wait outlasts its spinning, returns credits), lets MPI progress.
  absl::Status Idle(Backoff& backoff);
  // Hands every consumed inbox slot back to its writer, then CompleteAcks.
  absl::Status ReturnAllCredits(Completion completion);

  MPI_Comm comm_;
  MPI_Win window_ = MPI_WIN_NULL;
  bool window_locked_ = false;
  unsigned char* base_ = nullptr;
  std::unique_ptr<MpiRma> rma_;
  std::unique_ptr<InboxWriter> inbox_out_;
  std::unique_ptr<InboxReader> inbox_in_;
  ChannelOptions options_;
  SegmentLayout layout_;
  int rank_ = 0;
  int world_size_ = 0;
  uint64_t max_chunk_bytes_ = 0;
  bool closed_ = false;
  bool oversubscribed_ = false;  // more ranks on this node than cores

  BlockAllocator allocator_;
  std::vector<OutStream> p2p_out_;  // by destination
  OutStream bcast_out_;
  std::vector<InStream> p2p_in_;    // by source
  std::vector<InStream> bcast_in_;  // by source
  std::deque<Entry> entries_;
  std::deque<SelfMessage> self_queue_;
  std::vector<int> readers_;   // of the message being pushed
  std::vector<uint64_t> acked_;  // ReadAcks' words, kept to spare an allocation
  uint64_t first_entry_id_ = 0;
  uint64_t barrier_epoch_ = 0;
  int deferred_acks_ = 0;  // issued, not yet completed (see Acknowledge)
  uint64_t deferred_ack_bytes_ = 0;  // data space they would free
  // Deferred acks hold ring slots and data space at their publishers: a
  // few, at most an eighth of a ring, and an eighth of a data area.
  const int max_deferred_acks_;
  const uint64_t max_deferred_ack_bytes_;
  ChannelStats stats_;
};

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_WINDOW_CHANNEL_H_
