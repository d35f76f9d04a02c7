// Publisher: the sending side of a WindowChannel (protocol in
// segment_layout.h). A message goes one of three ways:
// - to this member itself: kept in memory, never in the window;
// - pushed: small, and every reader has credit (InboxWriter);
// - pulled: published in this member's own segment, chunk by chunk, each
//   chunk's descriptor announced in the readers' notice words; a chunk is
//   reclaimed once every reader acknowledged it or when it expires, and a
//   message cut short is withdrawn (a marker) before anything follows it.
// It keeps the ledger of what it published (entries(), expire_data()).
#ifndef FASTVIDEO_DIST_INTERNAL_PUBLISHER_H_
#define FASTVIDEO_DIST_INTERNAL_PUBLISHER_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dist/internal/block_allocator.h"
#include "dist/internal/channel_context.h"
#include "dist/internal/deadline.h"
#include "dist/internal/inbox.h"
#include "dist/internal/ledger.h"
#include "dist/internal/segment_layout.h"
#include "dist/message_key.h"

namespace fastvideo::dist {

// Writes bytes [offset, offset + bytes) of a message to `destination`, in
// order, in chunks of at most max_chunk_bytes; false: it refuses (a codec
// that did not write what it announced).
using ChunkWriter = absl::FunctionRef<bool(char* destination, uint64_t offset, uint64_t bytes)>;

class Publisher {
 public:
  explicit Publisher(const ChannelContext& context);

  uint64_t max_chunk_bytes() const { return max_chunk_bytes_; }

  // Publishes a `size`-byte message to `dst`, or to every other member
  // (MessageKey::kEveryRank). Waits for room (calling `idle` between
  // looks) up to `deadline`, then fails with ResourceExhausted naming the
  // readers that hold it up; a message cut short is withdrawn.
  absl::Status Publish(MessageKind kind, int dst, uint64_t size, ChunkWriter write,
                       Deadline deadline, IdleFn idle);
  // The oldest message this member sent itself, the one `key` names
  // (NotFound if it expired; DeadlineExceeded at once if there is none).
  absl::Status TakeFromSelf(const MessageKey& key, std::string* message);

  // Frees what readers acknowledged and forgets credited records.
  absl::Status Reclaim();
  // Publishes pending withdrawal markers that find room now.
  absl::Status PublishPendingWithdrawals(IdleFn idle);
  // Drops the data of messages published before now - data_expiration.
  absl::Status ExpireData(absl::Time now);

  std::vector<std::pair<std::string, absl::Time>> entries() const { return ledger_.entries(); }
  uint64_t send_count(int dst) const { return p2p_out_[dst].next_message; }
  uint64_t broadcast_send_count() const { return bcast_out_.next_message; }

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
    std::deque<PendingChunk> pending;                 // published, not yet acknowledged
    std::optional<uint64_t> withdrawn_message;        // marker still to publish
    MessageKind withdrawn_kind = MessageKind::kSend;  // its kind, for errors
  };
  // A message sent to this member itself.
  struct SelfMessage {
    std::string bytes;
    uint64_t entry_id;
    absl::Time time;
    std::optional<absl::Time> expired_at;
  };

  OutStream& out_stream(int dst) {
    return dst == MessageKey::kEveryRank ? bcast_out_ : p2p_out_[dst];
  }
  uint64_t descriptor_offset(int dst, uint64_t slot) const {
    return dst == MessageKey::kEveryRank ? ctx_.layout.bcast_descriptor(slot)
                                         : ctx_.layout.p2p_descriptor(dst, slot);
  }

  absl::Status PublishToSelf(const MessageKey& key, uint64_t size, ChunkWriter write,
                             absl::Time now);
  // Pushes a message that fits an inbox record when every reader has credit
  // (waiting a little for it, see WaitForCredit); false (nothing done)
  // otherwise.
  absl::StatusOr<bool> TryPush(const MessageKey& key, uint64_t size, ChunkWriter write,
                               absl::Time now, Deadline& deadline, IdleFn idle);
  // Waits up to kCreditWait for `dst` to hand back credit for a record of
  // `size`, unless it is stalled; false, marking it stalled, if none came.
  absl::StatusOr<bool> WaitForCredit(int dst, InboxStream inbox, uint64_t size,
                                     Deadline& deadline, IdleFn idle);
  // Reads the credit `dst` handed back for `inbox` (InboxWriter::Refresh):
  // the records it covers were consumed.
  absl::Status RefreshCredit(int dst, InboxStream inbox) {
    return inbox_.Refresh(dst, inbox, [this](const PushedRecord& r) { ReleasePushed(r); });
  }
  // The same for every reader and stream (InboxWriter::Reclaim).
  absl::Status ReclaimCredit() {
    return inbox_.Reclaim([this](const PushedRecord& r) { ReleasePushed(r); });
  }
  // A pushed record its reader consumed: its bytes are no longer held.
  void ReleasePushed(const PushedRecord& record) {
    ledger_.Release(record.entry_id, record.bytes, /*by_expiration=*/false);
  }
  // About ten times what a reader that is reading takes to consume a
  // record over TCP.
  static constexpr absl::Duration kCreditWait = absl::Microseconds(50);
  absl::Status PublishPulled(const MessageKey& key, uint64_t size, ChunkWriter write,
                             absl::Time now, Deadline& deadline, IdleFn idle);
  // Waits until `dst`'s ring has a free slot and, for a chunk that is not
  // inline, `bytes` of data space: the block offset (kInline if inline).
  absl::StatusOr<uint64_t> WaitForRoom(int dst, uint64_t bytes, const MessageKey& key,
                                       Deadline& deadline, IdleFn idle);
  absl::Status NoRoomError(int dst, uint64_t bytes, const MessageKey& key) const;
  std::string Laggards(int dst, uint64_t slot) const;
  // Writes one chunk's data (with `write`) and then its descriptor into
  // this member's segment; false, with nothing published, if `write`
  // refused.
  bool WriteChunk(int dst, const Descriptor& descriptor, ChunkWriter write);
  // Tells the reader(s) of `dst`'s ring how many descriptors it holds.
  absl::Status NotifyReaders(int dst, uint64_t published_slots);
  // Publishes the marker of a message withdrawn part-way, if any.
  absl::Status PublishWithdrawal(int dst, Deadline& deadline, IdleFn idle);
  void ReleaseChunk(PendingChunk& chunk, bool by_expiration);
  void ExpireChunks(uint64_t entry_id, absl::Time now);
  void ExpireSelfMessages(absl::Time cutoff, absl::Time now);

  const ChannelContext& ctx_;
  uint64_t max_chunk_bytes_ = 0;
  BlockAllocator allocator_;
  Ledger ledger_;
  InboxWriter inbox_;
  std::vector<OutStream> p2p_out_;  // by destination
  OutStream bcast_out_;
  std::deque<SelfMessage> self_queue_;
  std::vector<uint64_t> acked_;  // Reclaim's words, kept to spare an allocation
  std::vector<int> readers_;     // of the message being pushed
};

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_PUBLISHER_H_
