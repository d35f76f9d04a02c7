// Receiver: the reading side of a WindowChannel (protocol in
// segment_layout.h). It finds each stream's next message in this member's
// own memory — a record pushed into its inbox, or a notice of a descriptor
// on the publisher's pull ring — takes it whichever way it came, in order,
// and gives back what it consumed: inbox slots as credit, pulled chunks as
// acknowledgements (deferred while small, completed when it next waits).
#ifndef FASTVIDEO_DIST_INTERNAL_RECEIVER_H_
#define FASTVIDEO_DIST_INTERNAL_RECEIVER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "dist/byte_source.h"
#include "dist/internal/backoff.h"
#include "dist/internal/channel_context.h"
#include "dist/internal/deadline.h"
#include "dist/internal/inbox.h"
#include "dist/internal/segment_layout.h"
#include "dist/message_key.h"

namespace fastvideo::dist {

class Receiver {
 public:
  explicit Receiver(const ChannelContext& context);

  // The next message of `kind` from `src` (another member); see
  // WindowChannel::Fetch for what each error means and for `in_place`.
  absl::Status Fetch(MessageKind kind, int src, Deadline deadline, std::string* message,
                     InPlaceReader* in_place, bool* read_in_place);
  // Waits until each of `srcs` has its next message of `kind` here (or a
  // message of another kind); DeadlineExceeded names the silent ones.
  absl::Status AwaitPublished(MessageKind kind, absl::Span<const int> srcs, Deadline deadline);
  // While this member waits for room to publish an all_gather part, it
  // reads (and acknowledges) the chunks of the other members' parts that
  // are there, so that parts larger than the window cannot deadlock: every
  // member waits for room only while it goes on freeing the others'.
  absl::Status ReadAhead(MessageKind kind);

  // One pause of a waiting loop: completes deferred acks (and, once the
  // wait outlasts its spinning, returns credits), lets MPI progress.
  absl::Status Idle(Backoff& backoff);
  // kOnItsWay: locally complete (MPI_Win_flush_local_all), enough for a
  // publisher to see them soon without this member waiting for it;
  // kAtTarget: landed (MPI_Win_flush_all), as barrier() promises.
  enum class Completion { kOnItsWay, kAtTarget };
  // Hands every consumed inbox slot back to its writer, then completes
  // every deferred acknowledgement.
  absl::Status ReturnAllCredits(Completion completion);

  // A message this member sent itself was taken (Publisher::TakeFromSelf).
  void CountFromSelf(bool ok, uint64_t bytes);
  MessageKey incoming_key(MessageKind kind, int src) const;
  uint64_t recv_count(int src) const { return p2p_in_[src].next_message; }
  uint64_t broadcast_recv_count(int src) const { return bcast_in_[src].next_message; }

 private:
  struct InStream {
    uint64_t next_slot = 0;     // in the publisher's ring (pull path)
    uint64_t next_message = 0;  // across both paths
    // The descriptor at next_slot, once read (it may belong to a later
    // message than next_message, which then comes pushed).
    std::optional<Descriptor> awaited;
    // The first chunks of a pulled message read ahead (see ReadAhead), or
    // read by a Fetch that ran out of time before the rest came.
    struct ReadAheadMessage {
      std::string bytes;
      uint64_t next_offset = 0;
    };
    std::optional<ReadAheadMessage> read_ahead;
  };
  // Where the next message of a stream is, once it is here.
  enum class Path { kPushed, kPulled };
  struct Located {
    Path path;
    MessageKind kind;
    RecordHeader record;  // of a pushed message
  };
  // A pulled message being read chunk by chunk: the first chunk the
  // publisher expired, and the first whose hash did not match. (Plain
  // fields: GCC 12 at -O2 warns falsely about std::optional.)
  struct Pull {
    std::string& message;
    uint64_t next_offset = 0;
    bool expired = false;
    uint64_t published_ns = 0;
    uint64_t expired_ns = 0;
    bool corrupt = false;
    uint64_t corrupt_at = 0;
  };
  // What a descriptor read from ring slot `slot` says: not published yet
  // (an older one, or torn by its owner's rewrite: read it again), there,
  // or already overwritten by a later slot (InternalError naming the key).
  enum class Arrival { kNotYet, kArrived };

  InStream& in_stream(MessageKind kind, int src) {
    return kind == MessageKind::kSend ? p2p_in_[src] : bcast_in_[src];
  }
  // Where a publisher keeps the descriptor at ring `slot` of its stream of
  // `kind` to this member, and the word this member acknowledges it in.
  uint64_t incoming_descriptor(MessageKind kind, uint64_t slot) const;
  uint64_t incoming_acked(MessageKind kind) const;

  absl::StatusOr<std::optional<Located>> TryLocate(MessageKind kind, int src);
  absl::Status FailedKindError(MessageKind kind, int src, MessageKind found) const;
  absl::Status FetchPushed(MessageKind kind, int src, RecordHeader header, std::string* message);
  // Takes the pulled message at `src`'s ring, chunk by chunk; *withdrawn
  // when it turned out withdrawn by its publisher (look again).
  absl::Status FetchPulled(MessageKind kind, int src, Deadline& deadline, std::string* message,
                           InPlaceReader* in_place, bool* read_in_place, bool* withdrawn);
  // Copies one chunk into `pull`, checks it, acknowledges it.
  absl::Status ReadChunk(MessageKind kind, int src, const Descriptor& descriptor, Pull& pull);
  absl::Status FinishPulled(MessageKind kind, int src, const Pull& pull);
  // Hands a one-chunk message to `in_place` (see WindowChannel::Fetch).
  absl::Status FetchInPlace(MessageKind kind, int src, const Descriptor& descriptor,
                            InStream& stream, std::string* message, InPlaceReader* in_place,
                            bool* read_in_place);
  // After reading a chunk's data: whether its publisher expired (and may
  // have reused) it meanwhile, setting *expired_ns. Only a chunk old enough
  // to expire soon is looked at again (one more round trip over TCP).
  absl::StatusOr<bool> ExpiredWhileRead(int src, uint64_t descriptor_offset,
                                        const Descriptor& descriptor, uint64_t* expired_ns);
  absl::Status ExpiredError(const MessageKey& key, uint64_t published_ns,
                            uint64_t expired_ns) const;
  // Reads the descriptor at the next ring slot of `src` into the stream's
  // `awaited`, once `src` has announced it; whether it is there.
  absl::StatusOr<bool> TryDescriptor(MessageKind kind, int src);
  absl::Status WaitForDescriptor(MessageKind kind, int src, Deadline& deadline);
  absl::StatusOr<Arrival> CheckArrival(const Descriptor& descriptor, uint64_t slot, int src,
                                       const MessageKey& key) const;
  // DeadlineExceeded for `key`; `also_silent` names other sources waited
  // for in vain.
  absl::Status NothingPublishedError(const MessageKey& key, int src,
                                     absl::string_view also_silent) const;
  // Acknowledges up to `value` in `src`'s segment, which frees a ring slot
  // and `frees_bytes` of data there. An ack that frees more than
  // kMaxDeferredAckChunkBytes is completed at once; a smaller one by
  // CompleteAcks, which every wait, barrier() and progress() call first,
  // or once max_deferred_acks_ or max_deferred_ack_bytes_ are pending.
  static constexpr uint64_t kMaxDeferredAckChunkBytes = 64 << 10;
  absl::Status Acknowledge(int src, uint64_t ack_offset, uint64_t value, uint64_t frees_bytes);
  absl::Status CompleteAcks(Completion completion);

  const ChannelContext& ctx_;
  InboxReader inbox_;
  std::vector<InStream> p2p_in_;     // by source
  std::vector<InStream> bcast_in_;   // by source
  int deferred_acks_ = 0;            // issued, not yet completed (see Acknowledge)
  uint64_t deferred_ack_bytes_ = 0;  // data space they would free
  bool acks_on_their_way_ = false;   // locally complete, maybe not landed
  // Deferred acks hold ring slots and data space at their publishers: a
  // few, at most an eighth of a ring, and an eighth of a data area.
  const int max_deferred_acks_;
  const uint64_t max_deferred_ack_bytes_;
};

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_RECEIVER_H_
