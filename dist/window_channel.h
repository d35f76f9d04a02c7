// WindowChannel: the byte-level object channel of a StatelessProcessGroup,
// built on one MPI window (MPI_Win_allocate) over the group's communicator.
//
// Each member owns a segment of the window (see segment_layout.h) holding
// what it published. Publishing writes the bytes into the publisher's own
// segment and returns at once while there is room. A reader pulls a
// descriptor and then the bytes with MPI_Get under a passive-target epoch
// (MPI_Win_lock_all, held for the channel's life), then acknowledges with an
// atomic MPI_Accumulate into the publisher's segment (completed at once when
// it frees more than 64 KiB, else when the reader next waits, enters a
// barrier or calls Progress()); the publisher reclaims a block once every
// intended reader has acknowledged it, or when it expires (expire_data).
// Streams: one per (publisher, reader) pair for send/recv, one per
// publisher for broadcast and all_gather; each is in order.
//
// Messages larger than a chunk (a quarter of the data area by default) go
// through in chunks with flow control: the publisher waits for readers to
// free space, up to its deadline.
//
// Not thread-safe: use a channel from one thread at a time. Progress: under
// osc/pt2pt (TCP), a reader's MPI_Get completes only while the publisher is
// inside an MPI call; a publisher that computes for long without calling
// into MPI stalls its readers (call Progress() now and then).
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
#include "dist/block_allocator.h"
#include "dist/byte_source.h"
#include "dist/deadline.h"
#include "dist/message_key.h"
#include "dist/segment_layout.h"

namespace fastvideo::dist {

struct ChannelOptions {
  std::string name = "group";
  uint64_t segment_bytes = uint64_t{64} << 20;
  // Descriptors per stream: how many messages to one reader (or broadcasts)
  // may wait unread. 0: a quarter of the segment, from 16 to 1024.
  uint64_t ring_slots = 0;
  uint64_t max_chunk_bytes = 0;       // 0: a quarter of the data area
  absl::Duration data_expiration = absl::Seconds(3600);
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // Hash every chunk and check it on arrival (DataLoss if it differs). Off
  // by default: descriptors are always sealed, and a reader re-checks a
  // chunk's descriptor after reading it, which catches a chunk that expired
  // (and was reused) while it was being read.
  bool verify_payloads = false;
};

struct ChannelStats {
  uint64_t bytes_in_use = 0;          // data blocks not yet reclaimed
  uint64_t peak_bytes_in_use = 0;
  uint64_t entries_in_use = 0;        // published messages not yet reclaimed
  uint64_t objects_sent = 0;
  uint64_t bytes_sent = 0;
  uint64_t objects_received = 0;
  uint64_t bytes_received = 0;
  uint64_t objects_read_in_place = 0;  // decoded straight from the window
  uint64_t reclaimed_by_ack = 0;      // chunks
  uint64_t reclaimed_bytes_by_ack = 0;
  uint64_t reclaimed_by_expiration = 0;
  uint64_t reclaimed_bytes_by_expiration = 0;
};

class WindowChannel {
 public:
  // Collective over `comm`, which the channel takes over (and frees). Every
  // member must pass the same segment_bytes and ring_slots.
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
  };
  struct InStream {
    uint64_t next_slot = 0;
    uint64_t next_message = 0;
    // The descriptor at next_slot, when AwaitPublished has read it already.
    std::optional<Descriptor> awaited;
  };
  struct Entry {
    MessageKey key;
    absl::Time time;
    uint64_t live_chunks = 0;
    bool open = false;  // still being published: kept even if all was read
  };

  WindowChannel(MPI_Comm comm, ChannelOptions options, SegmentLayout layout);

  std::string Where() const;  // "group 'name' rank r/n"
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
  void ExpireDataAt(absl::Time now);
  absl::Status ReadAcks(std::vector<uint64_t>* acked);
  void Release(PendingChunk& chunk, bool by_expiration);
  void PopFinishedEntries();
  std::string Laggards(int dst, uint64_t slot,
                       const std::vector<uint64_t>& acked) const;

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
  absl::Status WaitForDescriptor(int src, uint64_t offset, uint64_t slot,
                                 const MessageKey& key, Deadline& deadline,
                                 Descriptor* descriptor);
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
  // CompleteAcks(), which every wait, Barrier() and Progress() call first,
  // or once max_deferred_acks_ or max_deferred_ack_bytes_ are pending.
  static constexpr uint64_t kMaxDeferredAckChunkBytes = 64 << 10;
  absl::Status Acknowledge(int src, uint64_t ack_offset, uint64_t value,
                           uint64_t frees_bytes);
  absl::Status CompleteAcks();
  // Reads 64-bit words of this member's own segment that peers update with
  // MPI atomics.
  absl::Status ReadLocalWords(uint64_t offset, int count, uint64_t* values);
  // Lets MPI progress incoming one-sided operations (osc/pt2pt needs it
  // while this rank only polls its own memory).
  void DriveProgress();

  MPI_Comm comm_;
  MPI_Win window_ = MPI_WIN_NULL;
  unsigned char* base_ = nullptr;
  ChannelOptions options_;
  SegmentLayout layout_;
  int rank_ = 0;
  int world_size_ = 0;
  uint64_t max_chunk_bytes_ = 0;
  bool closed_ = false;
  bool unified_memory_ = false;  // MPI_WIN_UNIFIED: local loads see remote updates
  bool oversubscribed_ = false;  // more ranks on this node than cores

  BlockAllocator allocator_;
  std::vector<OutStream> p2p_out_;  // by destination
  OutStream bcast_out_;
  std::vector<InStream> p2p_in_;    // by source
  std::vector<InStream> bcast_in_;  // by source
  std::deque<Entry> entries_;
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
