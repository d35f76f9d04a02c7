#include "dist/internal/inbox.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace fastvideo::dist {

InboxWriter::InboxWriter(Rma& rma, const SegmentLayout& layout)
    : rma_(rma),
      layout_(layout),
      outs_(size_t(layout.world_size()) * kInboxStreams),
      staging_(layout.inbox().max_record_bytes()),
      credits_(size_t(layout.world_size()) * kInboxStreams) {}

absl::Status InboxWriter::Refresh(int dst, InboxStream stream,
                                  absl::FunctionRef<void(const PushedRecord&)> released) {
  uint64_t credit = 0;
  if (absl::Status status = rma_.LoadWords(layout_.credit(dst, stream), 1, &credit); !status.ok()) {
    return status;
  }
  Forget(out(dst, stream), credit, released);
  return absl::OkStatus();
}

void InboxWriter::Forget(Out& o, uint64_t credit,
                         absl::FunctionRef<void(const PushedRecord&)> released) {
  // A peer's word is never trusted past what was pushed.
  const uint64_t credited = std::max(o.credited, std::min(credit, o.pushed));
  if (credited > o.credited) o.stalled = false;
  o.credited = credited;
  while (!o.pending.empty() &&
         o.pending.front().index + o.pending.front().slots <= o.credited) {
    if (o.pending.front().live) released(o.pending.front());
    o.pending.pop_front();
  }
}

absl::StatusOr<bool> InboxWriter::Push(absl::Span<const int> dsts, InboxStream stream,
                                       MessageKind kind, uint64_t seq, uint64_t publish_ns,
                                       uint64_t bytes, uint64_t entry_id,
                                       absl::FunctionRef<bool(char*)> write) {
  auto* header = reinterpret_cast<RecordHeader*>(staging_.data());
  unsigned char* payload = staging_.data() + sizeof(RecordHeader);
  if (bytes > 0 && !write(reinterpret_cast<char*>(payload))) return false;
  // Whole 8-byte words: what lands past the payload is never read.
  const uint64_t put_bytes = (sizeof(RecordHeader) + bytes + 7) / 8 * 8;
  const uint64_t slots = SlotsFor(bytes);
  for (size_t i = 0; i < dsts.size(); ++i) {
    Out& o = out(dsts[i], stream);
    // Readers of a collective stream got every pushed message, so they
    // expect the same index: one sealed record for all, and the puts go out
    // together. Otherwise each waits for its own.
    const bool same_record = i > 0 && header->index_plus_one == o.pushed + 1;
    if (i > 0 && !same_record && !rma_.ops_land_on_return()) {
      if (absl::Status status = rma_.SendAllNow(); !status.ok()) return status;
    }
    if (!same_record) {
      *header = RecordHeader{};
      header->index_plus_one = o.pushed + 1;
      header->message_seq = seq;
      header->publish_time_ns = publish_ns;
      header->kind = static_cast<uint32_t>(kind);
      header->payload_bytes = static_cast<uint32_t>(bytes);
      header->Seal(payload);
    }
    if (absl::Status status = rma_.StartPut(
            dsts[i], layout_.inbox_slot(rma_.rank(), stream, o.pushed), staging_.data(), put_bytes);
        !status.ok()) {
      return status;
    }
    o.pending.push_back({o.pushed, slots, *header, entry_id, bytes, true});
    o.pushed += slots;
  }
  // One local completion for all: the staging buffer is free again (and,
  // over osc/pt2pt, the records leave only now).
  if (rma_.ops_land_on_return()) return true;
  if (dsts.size() == 1) {
    if (absl::Status status = rma_.SendNow(dsts[0]); !status.ok()) return status;
  } else if (absl::Status status = rma_.SendAllNow(); !status.ok()) {
    return status;
  }
  return true;
}

absl::Status InboxWriter::AskForCredit(int dst, InboxStream stream) {
  Out& o = out(dst, stream);
  ++o.asks;
  if (absl::Status status =
          rma_.StoreWord(dst, layout_.credit_wanted(rma_.rank(), stream), o.asks);
      !status.ok()) {
    return status;
  }
  return rma_.ops_land_on_return() ? absl::OkStatus() : rma_.SendNow(dst);
}

absl::Status InboxWriter::Reclaim(absl::FunctionRef<void(const PushedRecord&)> released) {
  if (absl::Status status = rma_.LoadWords(layout_.credit(0, InboxStream::kP2p),
                                           static_cast<int>(credits_.size()), credits_.data());
      !status.ok()) {
    return status;
  }
  for (size_t i = 0; i < outs_.size(); ++i) Forget(outs_[i], credits_[i], released);
  return absl::OkStatus();
}

absl::Status InboxWriter::ExpireBefore(uint64_t cutoff_ns, uint64_t now_ns,
                                       absl::FunctionRef<void(const PushedRecord&)> expired) {
  for (int dst = 0; dst < layout_.world_size(); ++dst) {
    bool marked = false;
    for (int s = 0; s < kInboxStreams; ++s) {
      const auto stream = static_cast<InboxStream>(s);
      for (PushedRecord& record : out(dst, stream).pending) {
        if (!record.live || record.header.publish_time_ns >= cutoff_ns) continue;
        // The marker replaces only the header: the reader sees either the
        // record (whole, sealed) or the marker, never a mix. It keeps the
        // payload's size, which tells the reader the slots to skip.
        RecordHeader marker = record.header;
        marker.expired_at_ns = now_ns;
        marker.Seal(nullptr);
        if (absl::Status status =
                rma_.Put(dst, layout_.inbox_slot(rma_.rank(), stream, record.index), &marker,
                         sizeof(marker));
            !status.ok()) {
          return status;
        }
        record.live = false;
        marked = true;
        expired(record);
      }
    }
    // Puts are unordered: the marker must land before a later record can
    // reuse its slots.
    if (marked) {
      if (absl::Status status = rma_.Complete(dst); !status.ok()) return status;
    }
  }
  return absl::OkStatus();
}

InboxReader::InboxReader(Rma& rma, const SegmentLayout& layout)
    : rma_(rma),
      layout_(layout),
      ins_(size_t(layout.world_size()) * kInboxStreams),
      credit_batch_(std::max<uint64_t>(1, layout.inbox().slots / 4)) {}

const unsigned char* InboxReader::slot(int src, InboxStream stream) const {
  return const_cast<Rma&>(rma_).local(layout_.inbox_slot(src, stream, in(src, stream).next));
}

absl::StatusOr<SlotState> InboxReader::Peek(int src, InboxStream stream, RecordHeader* header) {
  In& i = in(src, stream);
  absl::StatusOr<SlotState> state =
      CheckRecord(slot(src, stream), layout_.inbox().max_record_bytes(), i.next, header);
  if (!state.ok()) {
    return absl::DataLossError(absl::StrCat("inbox of rank ", src, ": ", state.status().message()));
  }
  i.accepted = *state == SlotState::kArrived ? layout_.inbox().SlotsFor(header->record_bytes()) : 0;
  return state;
}

const unsigned char* InboxReader::payload(int src, InboxStream stream) const {
  return slot(src, stream) + sizeof(RecordHeader);
}

bool InboxReader::StillSealedAs(int src, InboxStream stream, const RecordHeader& header) const {
  uint64_t seal = 0;
  std::memcpy(&seal, slot(src, stream) + offsetof(RecordHeader, seal), sizeof(seal));
  return seal == header.seal;
}

absl::StatusOr<bool> InboxReader::Consume(int src, InboxStream stream) {
  In& i = in(src, stream);
  if (i.accepted == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("inbox of rank ", src, ": no record accepted at ", i.next, " to consume"));
  }
  i.next += i.accepted;
  i.accepted = 0;
  if (i.next - i.returned < credit_batch_) return false;
  if (absl::Status status = ReturnCredit(src, stream, i); !status.ok()) return status;
  return true;
}

absl::Status InboxReader::ReturnCredit(int src, InboxStream stream, In& i) {
  i.returned = i.next;
  return rma_.StoreWord(src, layout_.credit(rma_.rank(), stream), i.next);
}

absl::StatusOr<bool> InboxReader::AnswerCreditWanted(int src, InboxStream stream) {
  In& i = in(src, stream);
  uint64_t wanted = 0;
  if (absl::Status status = rma_.LoadWords(layout_.credit_wanted(src, stream), 1, &wanted);
      !status.ok()) {
    return status;
  }
  if (wanted <= i.answered) return false;
  i.answered = wanted;
  if (i.returned != i.next) {
    if (absl::Status status = ReturnCredit(src, stream, i); !status.ok()) return status;
  }
  return true;
}

absl::StatusOr<int> InboxReader::ForEachHeldBack(
    absl::FunctionRef<absl::StatusOr<bool>(int, InboxStream)> hand_back) {
  int issued = 0;
  for (int src = 0; src < layout_.world_size(); ++src) {
    for (int s = 0; s < kInboxStreams; ++s) {
      const auto stream = static_cast<InboxStream>(s);
      const In& i = in(src, stream);
      if (i.returned == i.next) continue;
      absl::StatusOr<bool> handed = hand_back(src, stream);
      if (!handed.ok()) return handed.status();
      issued += *handed;
    }
  }
  return issued;
}

absl::StatusOr<int> InboxReader::AnswerCreditAsks() {
  return ForEachHeldBack(
      [this](int src, InboxStream stream) { return AnswerCreditWanted(src, stream); });
}

absl::StatusOr<int> InboxReader::ReturnCredits() {
  return ForEachHeldBack([this](int src, InboxStream stream) -> absl::StatusOr<bool> {
    if (absl::Status status = ReturnCredit(src, stream, in(src, stream)); !status.ok()) {
      return status;
    }
    return true;
  });
}

absl::StatusOr<uint64_t> InboxReader::Notice(int src, InboxStream stream) {
  uint64_t notice = 0;
  if (absl::Status status = rma_.LoadWords(layout_.notice(src, stream), 1, &notice); !status.ok()) {
    return status;
  }
  return notice;
}

}  // namespace fastvideo::dist
