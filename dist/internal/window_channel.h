// WindowChannel: the byte-level object channel of a StatelessProcessGroup,
// built on one MPI window (MPI_Win_allocate) over the group's communicator:
// a thin facade that owns the window and the communicator and hands the
// work to its parts (internal/publisher.h, internal/receiver.h,
// internal/barrier.h).
// The protocol (every word of a segment, who writes it and how) is
// described once, in segment_layout.h; every remote access goes through
// the Rma layer (internal/rma.h).
//
// Two paths, one order per stream:
// - Push: a message whose framed payload fits a record of up to half an
//   inbox (8 slots: 2000 to 8144 bytes) is put by its sender, sealed, straight
//   into the reader's own inbox with one MPI_Put; the reader consumes it
//   from its own memory and hands slots back as credit, a quarter of an
//   inbox at a time.
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
#ifndef FASTVIDEO_DIST_INTERNAL_WINDOW_CHANNEL_H_
#define FASTVIDEO_DIST_INTERNAL_WINDOW_CHANNEL_H_

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "dist/byte_source.h"
#include "dist/channel_stats.h"
#include "dist/internal/barrier.h"
#include "dist/internal/channel_context.h"
#include "dist/internal/deadline.h"
#include "dist/internal/mpi_rma.h"
#include "dist/internal/publisher.h"
#include "dist/internal/receiver.h"
#include "dist/internal/segment_layout.h"
#include "dist/message_key.h"

namespace fastvideo::dist {

class WindowChannel {
 public:
  // Collective over `comm`, which the channel takes over: it is freed by
  // Close(), or before Create returns an error. Every member must pass the
  // same segment_bytes, ring_slots and inbox shape.
  static absl::StatusOr<std::unique_ptr<WindowChannel>> Create(MPI_Comm comm,
                                                               ChannelOptions options);

  WindowChannel(const WindowChannel&) = delete;
  WindowChannel& operator=(const WindowChannel&) = delete;
  // Calls Close() if it was not called; collective like it.
  ~WindowChannel();

  // Collective: ends the epoch, frees the window and the communicator.
  // Unread messages are dropped.
  absl::Status Close();
  // Close() once every member has come to close (WindowBarrier::RunClose,
  // until `deadline`). If some never come (their job died), or one called
  // barrier() instead, calls nothing collective: the window and
  // communicator are abandoned (their memory stays allocated until the
  // process exits, see forget_window.h) and the result is Unavailable
  // naming who did not come, or FailedPrecondition naming the mismatch.
  absl::Status CloseWhenAllCome(Deadline deadline);
  // Closes without calling anything collective (members are gone), and
  // returns `why` saying so.
  absl::Status Abandon(const absl::Status& why);

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  MPI_Comm comm() const { return comm_; }

  // Publishes `bytes` to `dst` (kind kSend; to this member itself too, kept
  // in memory at any size), or to every other member
  // (dst == MessageKey::kEveryRank, kinds kBroadcast / kAllGather). Returns
  // once the last chunk is in the segment. Waits for room up to `deadline`,
  // then fails with ResourceExhausted naming the readers that hold it up;
  // a message cut short that way is withdrawn, never half-delivered.
  absl::Status Publish(MessageKind kind, int dst, absl::string_view bytes, Deadline deadline);

  // The same for a message of `size` bytes that `write(destination, offset,
  // bytes)` puts, chunk by chunk, straight into this member's segment. It
  // may refuse (false): then nothing is published and Publish returns
  // InternalError.
  using ChunkWriter = ::fastvideo::dist::ChunkWriter;
  absl::Status Publish(MessageKind kind, int dst, uint64_t size, ChunkWriter write,
                       Deadline deadline);
  // Messages up to this size go in one chunk.
  uint64_t max_chunk_bytes() const { return publisher_->max_chunk_bytes(); }

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
  absl::Status Fetch(MessageKind kind, int src, Deadline deadline, std::string* message,
                     InPlaceReader* in_place = nullptr, bool* read_in_place = nullptr);

  // Waits until each of `srcs` has its next message of `kind` for this
  // rank here, looking at them all in this member's own memory (a pulled
  // one costs the read of its descriptor, kept for the Fetch calls that
  // follow). Returns early, OK,
  // when a source published a message of another kind: the Fetch from it
  // says so. DeadlineExceeded names the key of the first source still
  // silent and the other silent ranks.
  absl::Status AwaitPublished(MessageKind kind, absl::Span<const int> srcs, Deadline deadline);

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
  std::vector<std::pair<std::string, absl::Time>> entries() const { return publisher_->entries(); }
  const ChannelStats& stats() const { return stats_; }
  absl::Duration data_expiration() const { return options_.data_expiration; }
  const SegmentLayout& layout() const { return layout_; }

  // Messages sent to / received from each rank, and broadcast streams.
  uint64_t send_count(int dst) const { return publisher_->send_count(dst); }
  uint64_t recv_count(int src) const { return receiver_->recv_count(src); }
  uint64_t broadcast_send_count() const { return publisher_->broadcast_send_count(); }
  uint64_t broadcast_recv_count(int src) const { return receiver_->broadcast_recv_count(src); }

 private:
  WindowChannel(MPI_Comm comm, ChannelOptions options, SegmentLayout layout);
  // Allocates and locks the window (collective), then builds the parts;
  // Close() undoes whatever of it was done.
  absl::Status OpenWindow();
  absl::Status CheckOpen() const;

  MPI_Comm comm_;
  MPI_Win window_ = MPI_WIN_NULL;
  bool window_locked_ = false;
  unsigned char* base_ = nullptr;
  ChannelOptions options_;
  SegmentLayout layout_;
  int rank_ = 0;
  int world_size_ = 0;
  bool closed_ = false;
  ChannelStats stats_;
  std::unique_ptr<MpiRma> rma_;
  std::unique_ptr<ChannelContext> context_;  // what the parts share
  std::unique_ptr<Publisher> publisher_;
  std::unique_ptr<Receiver> receiver_;
  std::unique_ptr<WindowBarrier> barrier_;
};

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_WINDOW_CHANNEL_H_
