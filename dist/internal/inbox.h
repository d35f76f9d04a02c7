// The push path of the channel (protocol in segment_layout.h): a writer
// puts a small message, sealed, straight into its reader's own inbox with
// one RMA operation, over as many slots as it needs; the reader consumes it
// from its own memory and hands the slots back as credit, a quarter of an
// inbox at a time.
//
// InboxWriter never overwrites a slot its reader has not consumed: Push
// needs credit (HasCredit), and a writer without it takes the pull path.
// InboxReader checks every record before use (inbox_record.h). Both work on
// any Rma, so the protocol is unit-tested against FakeRma.
#ifndef FASTVIDEO_DIST_INTERNAL_INBOX_H_
#define FASTVIDEO_DIST_INTERNAL_INBOX_H_

#include <cstdint>
#include <deque>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "dist/internal/inbox_record.h"
#include "dist/internal/rma.h"
#include "dist/internal/segment_layout.h"

namespace fastvideo::dist {

// A record pushed and not yet credited back by its reader.
struct PushedRecord {
  uint64_t index;       // its first slot's
  uint64_t slots;       // how many it covers
  RecordHeader header;  // as pushed (seal and payload aside)
  uint64_t entry_id;    // the writer's bookkeeping entry of the message
  uint64_t bytes;       // payload bytes
  bool live = true;     // false once expired
};

class InboxWriter {
 public:
  InboxWriter(Rma& rma, const SegmentLayout& layout);

  uint64_t max_payload_bytes() const {
    return RecordPayloadBytes(layout_.inbox().max_record_bytes());
  }
  // Whether `dst` has free slots for this member's next record of `stream`,
  // one of `bytes` of payload, as of the last Refresh.
  bool HasCredit(int dst, InboxStream stream, uint64_t bytes) const {
    const Out& o = out(dst, stream);
    return o.pushed + SlotsFor(bytes) - o.credited <= layout_.inbox().slots;
  }
  // Whether `dst` handed no credit back for `stream` while this member last
  // waited for some (MarkStalled), and none since: it is busy elsewhere,
  // and waiting for it again is not worth it until it reads.
  bool stalled(int dst, InboxStream stream) const { return out(dst, stream).stalled; }
  void MarkStalled(int dst, InboxStream stream) { out(dst, stream).stalled = true; }
  // Tells `dst` that this member waits for credit on `stream` (its
  // credit_wanted word), on its way when this returns.
  absl::Status AskForCredit(int dst, InboxStream stream);
  // Reads the credit `dst` has returned for `stream` and forgets the records
  // it covers, calling `released` for each that was still live.
  absl::Status Refresh(int dst, InboxStream stream,
                       absl::FunctionRef<void(const PushedRecord&)> released);
  // Pushes message `seq` of `kind`, whose `bytes`-byte payload `write`
  // puts at the given address (called once), as one sealed record to each
  // of `dsts`. Needs credit at each and bytes <= max_payload_bytes().
  // False from `write`: nothing is pushed.
  absl::StatusOr<bool> Push(absl::Span<const int> dsts, InboxStream stream, MessageKind kind,
                            uint64_t seq, uint64_t publish_ns, uint64_t bytes, uint64_t entry_id,
                            absl::FunctionRef<bool(char*)> write);
  // Forgets the records `dst` has consumed, calling `released` for each
  // that was still live.
  absl::Status Reclaim(absl::FunctionRef<void(const PushedRecord&)> released);
  // Overwrites the header of every live record published before
  // `cutoff_ns` with an expired marker (completed at its reader before this
  // returns), calling `expired` for each.
  absl::Status ExpireBefore(uint64_t cutoff_ns, uint64_t now_ns,
                            absl::FunctionRef<void(const PushedRecord&)> expired);

  // Records of `stream` pushed to `dst` and not credited back yet.
  uint64_t unacknowledged(int dst, InboxStream stream) const {
    return out(dst, stream).pending.size();
  }

 private:
  struct Out {
    uint64_t pushed = 0;    // slots
    uint64_t credited = 0;  // slots
    bool stalled = false;   // until credit comes back
    uint64_t asks = 0;      // AskForCredit calls
    std::deque<PushedRecord> pending;
  };
  void Forget(Out& o, uint64_t credit, absl::FunctionRef<void(const PushedRecord&)> released);
  uint64_t SlotsFor(uint64_t bytes) const {
    return layout_.inbox().SlotsFor(sizeof(RecordHeader) + bytes);
  }
  Out& out(int dst, InboxStream stream) { return outs_[dst * kInboxStreams + int(stream)]; }
  const Out& out(int dst, InboxStream stream) const {
    return outs_[dst * kInboxStreams + int(stream)];
  }

  Rma& rma_;
  const SegmentLayout& layout_;
  std::vector<Out> outs_;
  std::vector<unsigned char> staging_;  // one record on its way out
  std::vector<uint64_t> credits_;       // Reclaim's words
};

class InboxReader {
 public:
  InboxReader(Rma& rma, const SegmentLayout& layout);

  // Whether the next record from `src` on `stream` is here; with
  // kArrived, *header is a copy of its header and payload() its payload.
  absl::StatusOr<SlotState> Peek(int src, InboxStream stream, RecordHeader* header);
  const unsigned char* payload(int src, InboxStream stream) const;
  // Whether the record Peek just accepted is still the same one: false if
  // its writer has meanwhile overwritten it with an expired marker.
  bool StillSealedAs(int src, InboxStream stream, const RecordHeader& header) const;
  // Moves past the record Peek accepted (FailedPrecondition if none). Its
  // slots go back to the writer as credit once a quarter of the inbox is
  // consumed: then an atomic word update is issued (true), which the caller
  // completes (Rma::CompleteAll).
  absl::StatusOr<bool> Consume(int src, InboxStream stream);
  // Hands every consumed slot back now; returns how many word updates it
  // issued (the caller completes them).
  absl::StatusOr<int> ReturnCredits();
  // Whether `src` has asked for credit on `stream` (AskForCredit) since
  // this member last answered; if so, hands back every slot consumed from
  // it (a word update, which the caller completes).
  absl::StatusOr<bool> AnswerCreditWanted(int src, InboxStream stream);
  // AnswerCreditWanted for every writer and stream with consumed slots not
  // handed back yet; returns how many word updates it issued.
  absl::StatusOr<int> AnswerCreditAsks();

  uint64_t next_index(int src, InboxStream stream) const { return in(src, stream).next; }
  // The pull-path descriptors `src` has announced on `stream` (its ring
  // slots used), from this member's own memory.
  absl::StatusOr<uint64_t> Notice(int src, InboxStream stream);

 private:
  struct In {
    uint64_t next = 0;      // where the next record starts
    uint64_t returned = 0;  // consumed slots handed back as credit
    uint64_t accepted = 0;  // slots of the record Peek accepted, until consumed
    uint64_t answered = 0;  // the credit_wanted value last answered
  };
  absl::Status ReturnCredit(int src, InboxStream stream, In& i);
  // Calls `hand_back` for every writer and stream with consumed slots not
  // handed back yet; returns how many calls issued a word update (true).
  absl::StatusOr<int> ForEachHeldBack(
      absl::FunctionRef<absl::StatusOr<bool>(int, InboxStream)> hand_back);
  In& in(int src, InboxStream stream) { return ins_[src * kInboxStreams + int(stream)]; }
  const In& in(int src, InboxStream stream) const {
    return ins_[src * kInboxStreams + int(stream)];
  }
  const unsigned char* slot(int src, InboxStream stream) const;

  Rma& rma_;
  const SegmentLayout& layout_;
  std::vector<In> ins_;
  uint64_t credit_batch_;
};

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_INBOX_H_
