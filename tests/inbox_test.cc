// The push path's protocol against FakeRma, without mpirun: records land
// only when delivered, torn or out of order; records over several slots,
// and past the last one; credits run out and come back as the ring wraps;
// expiry markers; what a reader refuses.
#include "dist/internal/inbox.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "dist/internal/fake_rma.h"
#include "dist/internal/inbox_record.h"
#include "dist/internal/segment_layout.h"

namespace fastvideo::dist {
namespace {

using ::testing::HasSubstr;

constexpr int kWriter = 0;
constexpr int kReader = 1;
constexpr InboxStream kP2p = InboxStream::kP2p;

// Whether the writer has credit for its next record (with `bytes` of
// payload), having read its credit word.
bool Credit(InboxWriter& writer, uint64_t bytes = 0) {
  EXPECT_TRUE(writer.Refresh(kReader, kP2p, [](const PushedRecord&) {}).ok());
  return writer.HasCredit(kReader, kP2p, bytes);
}

// A writer and a reader with inboxes of `slots` slots of 128 bytes.
class InboxPair : public ::testing::Test {
 protected:
  explicit InboxPair(uint64_t slots)
      : layout_(*SegmentLayout::Create(2, 4, 1 << 16, 4096, InboxShape{slots, 128})),
        window_(2, layout_.segment_bytes()),
        writer_rma_(window_, kWriter),
        reader_rma_(window_, kReader),
        writer_(writer_rma_, layout_),
        reader_(reader_rma_, layout_) {}

  SegmentLayout layout_;
  FakeWindow window_;
  FakeRma writer_rma_;
  FakeRma reader_rma_;
  InboxWriter writer_;
  InboxReader reader_;
};

// Four slots: a record covers up to 2 of them (208 bytes of payload; one
// slot holds 80).
class InboxTest : public InboxPair {
 protected:
  InboxTest() : InboxPair(4) {}

  // Pushes message `seq` with `payload` (entry id = seq); false without credit.
  bool Push(uint64_t seq, const std::string& payload, uint64_t publish_ns = 1000) {
    if (!Credit(writer_, payload.size())) return false;
    absl::StatusOr<bool> pushed = writer_.Push({kReader}, kP2p, MessageKind::kSend, seq, publish_ns,
                                               payload.size(), seq, [&payload](char* to) {
                                                 std::memcpy(to, payload.data(), payload.size());
                                                 return true;
                                               });
    EXPECT_TRUE(pushed.ok() && *pushed) << pushed.status();
    return true;
  }

  // The next record's payload, or "" when none has arrived.
  std::string Next(RecordHeader* header_out = nullptr) {
    RecordHeader header;
    absl::StatusOr<SlotState> state = reader_.Peek(kWriter, kP2p, &header);
    EXPECT_TRUE(state.ok()) << state.status();
    if (!state.ok() || *state != SlotState::kArrived) return "";
    if (header_out != nullptr) *header_out = header;
    return std::string(reinterpret_cast<const char*>(reader_.payload(kWriter, kP2p)),
                       header.payload_bytes);
  }
};

TEST_F(InboxTest, ARecordIsSeenOnlyOnceItHasLanded) {
  ASSERT_TRUE(Push(0, "hello"));
  EXPECT_EQ(Next(), "") << "seen before it landed";
  reader_rma_.Poll();  // the target's progress lands it
  RecordHeader header;
  EXPECT_EQ(Next(&header), "hello");
  EXPECT_EQ(header.message_seq, 0u);
  EXPECT_EQ(header.publish_time_ns, 1000u);
  EXPECT_EQ(static_cast<MessageKind>(header.kind), MessageKind::kSend);
  EXPECT_FALSE(header.expired());
}

TEST_F(InboxTest, ATornRecordIsReadAgainUntilWhole) {
  ASSERT_TRUE(Push(0, std::string(70, 'z')));
  for (uint64_t bytes : {8, 40, 100}) {
    window_.TearOldest(bytes);
    EXPECT_EQ(Next(), "") << "accepted after " << bytes << " bytes";
  }
  window_.LandHeld();
  EXPECT_EQ(Next(), std::string(70, 'z'));
}

TEST_F(InboxTest, RecordsLandingOutOfOrderAreReadInOrder) {
  ASSERT_TRUE(Push(0, "first"));
  ASSERT_TRUE(Push(1, "second"));
  window_.DeliverAllNewestFirst();
  EXPECT_EQ(Next(), "first");
  ASSERT_TRUE(reader_.Consume(kWriter, kP2p).ok());
  EXPECT_EQ(Next(), "second");
}

TEST_F(InboxTest, ARecordCoversTheSlotsItNeedsAndTheNextStartsAfterIt) {
  ASSERT_TRUE(Push(0, std::string(150, 'w')));  // 48 + 150 bytes: two slots
  ASSERT_TRUE(Push(1, "x"));
  window_.DeliverAll();
  EXPECT_EQ(Next(), std::string(150, 'w'));
  ASSERT_TRUE(reader_.Consume(kWriter, kP2p).ok());
  EXPECT_EQ(reader_.next_index(kWriter, kP2p), 2u);
  EXPECT_EQ(Next(), "x");
  ASSERT_TRUE(reader_.Consume(kWriter, kP2p).ok());
  EXPECT_EQ(reader_.next_index(kWriter, kP2p), 3u);
}

TEST_F(InboxTest, ARecordStartingInTheLastSlotRunsOnPastIt) {
  for (uint64_t seq = 0; seq < 3; ++seq) ASSERT_TRUE(Push(seq, "s" + std::to_string(seq)));
  window_.DeliverAll();
  for (int i = 0; i < 3; ++i) {
    ASSERT_NE(Next(), "");
    ASSERT_TRUE(reader_.Consume(kWriter, kP2p).ok());
  }
  ASSERT_TRUE(reader_rma_.CompleteAll().ok());
  // Slot 3 is the last: the record runs on into the tail, in one piece,
  // and a torn copy of it is never accepted.
  const std::string big(200, 'b');
  ASSERT_TRUE(Push(3, big));
  for (uint64_t bytes : {48, 130, 240}) {
    window_.TearOldest(bytes);
    EXPECT_EQ(Next(), "") << "accepted after " << bytes << " bytes";
  }
  window_.LandHeld();
  EXPECT_EQ(Next(), big);
  ASSERT_TRUE(reader_.Consume(kWriter, kP2p).ok());
  ASSERT_TRUE(reader_rma_.CompleteAll().ok());
  // The next record starts at index 5, slot 1 of the next lap.
  ASSERT_TRUE(Push(4, "after"));
  window_.DeliverAll();
  EXPECT_EQ(Next(), "after");
  EXPECT_EQ(reader_.next_index(kWriter, kP2p), 5u);
  EXPECT_EQ(layout_.inbox_slot(kWriter, kP2p, 5), layout_.inbox_slot(kWriter, kP2p, 1));
}

TEST_F(InboxTest, CreditIsCountedInSlots) {
  ASSERT_TRUE(Push(0, std::string(200, 'a')));  // slots 0-1
  ASSERT_TRUE(Push(1, std::string(200, 'b')));  // slots 2-3
  EXPECT_FALSE(Credit(writer_, 0)) << "four slots in use";
  window_.DeliverAll();
  ASSERT_EQ(Next(), std::string(200, 'a'));
  ASSERT_TRUE(*reader_.Consume(kWriter, kP2p));  // two slots back
  ASSERT_TRUE(reader_rma_.CompleteAll().ok());
  EXPECT_TRUE(Credit(writer_, 200));
  EXPECT_FALSE(Credit(writer_, 209)) << "larger than a record";
  EXPECT_EQ(writer_.max_payload_bytes(), 208u);
}

TEST_F(InboxTest, AnExpiredRecordOverSeveralSlotsIsSkippedWhole) {
  ASSERT_TRUE(Push(0, std::string(150, 'o'), /*publish_ns=*/1000));
  ASSERT_TRUE(Push(1, "new", /*publish_ns=*/5000));
  window_.DeliverAll();
  ASSERT_TRUE(writer_.ExpireBefore(2000, 9000, [](const PushedRecord&) {}).ok());
  RecordHeader marker;
  ASSERT_EQ(*reader_.Peek(kWriter, kP2p, &marker), SlotState::kArrived);
  EXPECT_TRUE(marker.expired());
  ASSERT_TRUE(reader_.Consume(kWriter, kP2p).ok());
  EXPECT_EQ(reader_.next_index(kWriter, kP2p), 2u);
  EXPECT_EQ(Next(), "new");
}

TEST_F(InboxTest, ConsumingWithoutAnAcceptedRecordIsRefused) {
  absl::StatusOr<bool> consumed = reader_.Consume(kWriter, kP2p);
  ASSERT_FALSE(consumed.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(consumed.status()));
  ASSERT_TRUE(Push(0, "late"));
  EXPECT_EQ(Next(), "") << "not landed";
  EXPECT_FALSE(reader_.Consume(kWriter, kP2p).ok()) << "a record still landing was consumed";
  EXPECT_EQ(reader_.next_index(kWriter, kP2p), 0u);
}

TEST_F(InboxTest, CreditsRunOutAndComeBackAsTheRingWraps) {
  uint64_t next_seq = 0, next_read = 0;
  for (int lap = 0; lap < 3; ++lap) {
    // Four slots: the fifth record needs credit.
    while (Push(next_seq, "m" + std::to_string(next_seq))) ++next_seq;
    EXPECT_EQ(next_seq, next_read + 4) << "lap " << lap;
    reader_rma_.Poll();
    // Consuming hands a slot back (a quarter of 4 is 1), but only once the
    // reader completes its update does the writer see it.
    EXPECT_EQ(Next(), "m" + std::to_string(next_read));
    absl::StatusOr<bool> issued = reader_.Consume(kWriter, kP2p);
    ASSERT_TRUE(issued.ok() && *issued);
    ++next_read;
    EXPECT_FALSE(Credit(writer_)) << "credit before completion";
    ASSERT_TRUE(reader_rma_.CompleteAll().ok());
    EXPECT_TRUE(Credit(writer_));
    // Read the rest of the lap.
    while (next_read < next_seq) {
      EXPECT_EQ(Next(), "m" + std::to_string(next_read));
      ASSERT_TRUE(reader_.Consume(kWriter, kP2p).ok());
      ++next_read;
    }
    ASSERT_TRUE(reader_rma_.CompleteAll().ok());
  }
  EXPECT_EQ(reader_.next_index(kWriter, kP2p), next_read);
}

TEST_F(InboxTest, ReclaimReleasesWhatTheReaderCredited) {
  ASSERT_TRUE(Push(0, "a"));
  ASSERT_TRUE(Push(1, "b"));
  reader_rma_.Poll();
  ASSERT_EQ(Next(), "a");
  ASSERT_TRUE(reader_.Consume(kWriter, kP2p).ok());
  ASSERT_TRUE(reader_rma_.CompleteAll().ok());
  std::vector<uint64_t> released;
  auto collect = [&released](const PushedRecord& record) { released.push_back(record.entry_id); };
  ASSERT_TRUE(writer_.Reclaim(collect).ok());
  EXPECT_EQ(released, std::vector<uint64_t>({0}));
  EXPECT_EQ(writer_.unacknowledged(kReader, kP2p), 1u);
}

TEST_F(InboxTest, AnExpiredRecordReadsAsExpiredWithItsTimes) {
  ASSERT_TRUE(Push(0, "old", /*publish_ns=*/1000));
  ASSERT_TRUE(Push(1, "new", /*publish_ns=*/5000));
  reader_rma_.Poll();
  RecordHeader before;
  ASSERT_EQ(Next(&before), "old");
  std::vector<uint64_t> expired;
  ASSERT_TRUE(
      writer_
          .ExpireBefore(/*cutoff_ns=*/2000, /*now_ns=*/9000,
                        [&expired](const PushedRecord& r) { expired.push_back(r.entry_id); })
          .ok());
  EXPECT_EQ(expired, std::vector<uint64_t>({0}));
  // The marker is complete at the reader when ExpireBefore returns.
  EXPECT_FALSE(reader_.StillSealedAs(kWriter, kP2p, before));
  RecordHeader after;
  absl::StatusOr<SlotState> state = reader_.Peek(kWriter, kP2p, &after);
  ASSERT_TRUE(state.ok() && *state == SlotState::kArrived);
  EXPECT_TRUE(after.expired());
  EXPECT_EQ(after.publish_time_ns, 1000u);
  EXPECT_EQ(after.expired_at_ns, 9000u);
  ASSERT_TRUE(reader_.Consume(kWriter, kP2p).ok());
  EXPECT_EQ(Next(), "new");  // the later one is untouched
  // An expired record is not released twice when its credit comes back.
  ASSERT_TRUE(reader_rma_.CompleteAll().ok());
  int released = 0;
  ASSERT_TRUE(writer_.Reclaim([&released](const PushedRecord&) { ++released; }).ok());
  EXPECT_EQ(released, 0);
}

TEST_F(InboxTest, ARecordInASlotItHadNoCreditForIsDataLoss) {
  // A sealed record 4 ahead of the one expected, in the same slot.
  unsigned char* slot = reader_rma_.local(layout_.inbox_slot(kWriter, kP2p, 0));
  RecordHeader forged{};
  forged.index_plus_one = 5;
  forged.Seal(slot + sizeof(RecordHeader));
  std::memcpy(slot, &forged, sizeof(forged));
  RecordHeader header;
  absl::StatusOr<SlotState> state = reader_.Peek(kWriter, kP2p, &header);
  ASSERT_FALSE(state.ok());
  EXPECT_TRUE(absl::IsDataLoss(state.status()));
  EXPECT_THAT(std::string(state.status().message()),
              HasSubstr("expected record 0, found record 4"));
}

TEST_F(InboxTest, AHeaderClaimingMoreThanTheLargestRecordIsNeverAccepted) {
  unsigned char* slot = reader_rma_.local(layout_.inbox_slot(kWriter, kP2p, 0));
  RecordHeader header{};
  header.index_plus_one = 1;
  header.payload_bytes = 209;  // past two 128-byte slots
  std::memcpy(slot, &header, sizeof(header));
  RecordHeader copy;
  absl::StatusOr<SlotState> state = reader_.Peek(kWriter, kP2p, &copy);
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(*state, SlotState::kEmpty);
}

TEST_F(InboxTest, NoticesLandAsWords) {
  ASSERT_TRUE(writer_rma_.StoreWord(kReader, layout_.notice(kWriter, kP2p), 3).ok());
  EXPECT_EQ(*reader_.Notice(kWriter, kP2p), 0u);
  window_.DeliverAll();
  EXPECT_EQ(*reader_.Notice(kWriter, kP2p), 3u);
}

// Eight slots: credit goes back two slots at a time, or when asked for.
class InboxCreditTest : public InboxPair {
 protected:
  InboxCreditTest() : InboxPair(8) {}

  // Fills the inbox with eight empty records and consumes the first: one
  // slot consumed, below the batch.
  void FillAndConsumeOne() {
    for (uint64_t seq = 0; seq < 8; ++seq) {
      ASSERT_TRUE(Credit(writer_));
      ASSERT_TRUE(*writer_.Push({kReader}, kP2p, MessageKind::kSend, seq, 0, 0, seq,
                                [](char*) { return true; }));
    }
    EXPECT_FALSE(Credit(writer_));
    reader_rma_.Poll();
    RecordHeader header;
    ASSERT_EQ(*reader_.Peek(kWriter, kP2p, &header), SlotState::kArrived);
    EXPECT_FALSE(*reader_.Consume(kWriter, kP2p)) << "one of a batch of two";
    ASSERT_TRUE(reader_rma_.CompleteAll().ok());
    EXPECT_FALSE(Credit(writer_));
  }
};

TEST_F(InboxCreditTest, CreditsBelowTheBatchGoBackWhenAskedFor) {
  FillAndConsumeOne();
  EXPECT_EQ(*reader_.ReturnCredits(), 1);
  EXPECT_EQ(*reader_.ReturnCredits(), 0) << "nothing more to return";
  ASSERT_TRUE(reader_rma_.CompleteAll().ok());
  EXPECT_TRUE(Credit(writer_));
}

TEST_F(InboxCreditTest, AWriterAsksForCreditAndTheReaderAnswersOnce) {
  FillAndConsumeOne();
  EXPECT_FALSE(*reader_.AnswerCreditWanted(kWriter, kP2p)) << "nobody asked";
  ASSERT_TRUE(writer_.AskForCredit(kReader, kP2p).ok());
  window_.DeliverAll();
  EXPECT_TRUE(*reader_.AnswerCreditWanted(kWriter, kP2p));
  EXPECT_FALSE(*reader_.AnswerCreditWanted(kWriter, kP2p)) << "answered twice";
  EXPECT_EQ(*reader_.ReturnCredits(), 0) << "the answer returned the slot";
  ASSERT_TRUE(reader_rma_.CompleteAll().ok());
  EXPECT_TRUE(Credit(writer_));
}

}  // namespace
}  // namespace fastvideo::dist
