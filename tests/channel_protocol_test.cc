// The channel's protocol between two members, publisher and receiver, on
// the in-process FakeRma: deterministic, without mpirun. Puts land only
// when the target polls (or a test delivers them, out of order or torn).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "dist/channel_stats.h"
#include "dist/internal/channel_context.h"
#include "dist/internal/deadline.h"
#include "dist/internal/fake_rma.h"
#include "dist/internal/publisher.h"
#include "dist/internal/receiver.h"
#include "dist/internal/segment_layout.h"

namespace fastvideo::dist {
namespace {

using ::testing::HasSubstr;

constexpr int kWriter = 0;
constexpr int kReader = 1;

// One member: its context and both sides of its channel.
struct Member {
  Member(FakeWindow& window, int rank, const SegmentLayout& layout, const ChannelOptions& options)
      : rma(window, rank),
        context{rma, layout, options, stats, rank, 2, /*oversubscribed=*/false},
        publisher(context),
        receiver(context) {}

  ChannelStats stats;
  FakeRma rma;
  ChannelContext context;
  Publisher publisher;
  Receiver receiver;
};

class ChannelProtocolTest : public ::testing::Test {
 protected:
  // Inboxes of 4 slots of 128 bytes (80 of payload); 64 KiB segments, so
  // that chunks are at most 8 KiB (a quarter of the data area, rounded).
  explicit ChannelProtocolTest(InboxShape inbox = InboxShape{4, 128})
      : layout_(*SegmentLayout::Create(2, 8, 64 << 10, 4096, inbox)),
        window_(2, layout_.segment_bytes()) {
    options_.segment_bytes = layout_.segment_bytes();
    options_.max_chunk_bytes = 4096;
    options_.clock = [this] { return now_; };
    writer_ = std::make_unique<Member>(window_, kWriter, layout_, options_);
    reader_ = std::make_unique<Member>(window_, kReader, layout_, options_);
  }

  // Publishes `message` to the reader; a publisher waiting for room lets
  // every operation in flight land (the reader's progress).
  absl::Status Send(const std::string& message,
                    Deadline deadline = Deadline::After(absl::Seconds(5))) {
    return SendWhile(message, [this](Backoff& backoff) {
      window_.DeliverAll();
      backoff.Pause();
      return absl::OkStatus();
    }, deadline);
  }

  // Publishes `message`, doing `idle` whenever the publisher waits.
  absl::Status SendWhile(const std::string& message, IdleFn idle,
                         Deadline deadline = Deadline::After(absl::Seconds(5))) {
    return writer_->publisher.Publish(
        MessageKind::kSend, kReader, message.size(),
        [&message](char* to, uint64_t offset, uint64_t bytes) {
          std::memcpy(to, message.data() + offset, bytes);
          return true;
        },
        deadline, idle);
  }

  absl::StatusOr<std::string> Receive(absl::Duration timeout = absl::Seconds(5)) {
    std::string message;
    absl::Status status = reader_->receiver.Fetch(
        MessageKind::kSend, kWriter, Deadline::After(timeout), &message, nullptr, nullptr);
    if (!status.ok()) return status;
    return message;
  }

  static std::string Small(int i) { return absl::StrCat("small #", i); }
  static std::string Large(int i) { return std::string(300 + i, static_cast<char>('A' + i)); }

  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
  SegmentLayout layout_;
  ChannelOptions options_;
  FakeWindow window_;
  std::unique_ptr<Member> writer_;
  std::unique_ptr<Member> reader_;
};

TEST_F(ChannelProtocolTest, BothPathsInterleavedArriveInOrderAndCreditsComeBack) {
  // Small and large in turn, none read yet: four small ones fill the inbox,
  // the fifth goes the pull way; the large ones always do.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(Send(i % 2 == 0 ? Small(i) : Large(i)).ok());
  EXPECT_EQ(writer_->stats.objects_sent_pushed, 4u);
  EXPECT_EQ(writer_->stats.objects_sent_pulled_for_credit, 1u);
  EXPECT_EQ(writer_->publisher.entries().size(), 10u);
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<std::string> got = Receive();
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, i % 2 == 0 ? Small(i) : Large(i)) << "message " << i;
  }
  EXPECT_EQ(reader_->stats.objects_received_pushed, 4u);
  // Everything read goes back (credits and acks) and, once landed, is
  // reclaimed.
  ASSERT_TRUE(reader_->receiver.ReturnAllCredits(Receiver::Completion::kAtTarget).ok());
  EXPECT_EQ(window_.in_flight(), 0u);
  ASSERT_TRUE(writer_->publisher.Reclaim().ok());
  EXPECT_TRUE(writer_->publisher.entries().empty());
  EXPECT_EQ(writer_->stats.bytes_in_use, 0u);
  ASSERT_TRUE(Send(Small(10)).ok());
  EXPECT_EQ(writer_->stats.objects_sent_pushed, 5u) << "credit did not come back";
  EXPECT_EQ(*Receive(), Small(10));
}

TEST_F(ChannelProtocolTest, AWriterOutOfCreditWaitsForAReaderThatReads) {
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(Send(Small(i)).ok());  // the inbox is full
  // While the writer waits, the reader reads one (and, asked for credit,
  // sends it on its way at once) and the credit lands.
  int idles = 0;
  ASSERT_TRUE(SendWhile(Small(4), [&](Backoff& backoff) {
                window_.DeliverAll();
                if (idles++ == 0) {
                  EXPECT_EQ(*Receive(), Small(0));
                }
                backoff.Pause();
                return absl::OkStatus();
              }).ok());
  EXPECT_GT(idles, 1);
  EXPECT_EQ(writer_->stats.objects_sent_pushed, 5u);
  EXPECT_EQ(writer_->stats.objects_sent_pulled_for_credit, 0u);
  window_.DeliverAll();
  for (int i = 1; i < 5; ++i) EXPECT_EQ(*Receive(), Small(i));
}

TEST_F(ChannelProtocolTest, AReaderThatHandsNoCreditBackIsNotWaitedForUntilItDoes) {
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(Send(Small(i)).ok());
  int idles = 0;
  const auto counted = [&](Backoff& backoff) {
    ++idles;
    window_.DeliverAll();
    backoff.Pause();
    return absl::OkStatus();
  };
  // The reader reads nothing: the writer waits a little, then pulls ...
  ASSERT_TRUE(SendWhile(Small(4), counted).ok());
  EXPECT_GT(idles, 0);
  EXPECT_EQ(writer_->stats.objects_sent_pulled_for_credit, 1u);
  // ... and pulls the next one at once.
  idles = 0;
  ASSERT_TRUE(SendWhile(Small(5), counted).ok());
  EXPECT_EQ(idles, 0) << "waited again for a reader that is busy elsewhere";
  EXPECT_EQ(writer_->stats.objects_sent_pulled_for_credit, 2u);
  // Once it reads, credit comes back and the writer pushes again.
  for (int i = 0; i < 6; ++i) EXPECT_EQ(*Receive(), Small(i));
  ASSERT_TRUE(reader_->receiver.ReturnAllCredits(Receiver::Completion::kAtTarget).ok());
  ASSERT_TRUE(Send(Small(6)).ok());
  EXPECT_EQ(writer_->stats.objects_sent_pushed, 5u);
  EXPECT_EQ(*Receive(), Small(6));
}

// Inboxes of 8 slots: a reader hands credit back 2 slots at a time.
class WideInboxTest : public ChannelProtocolTest {
 protected:
  WideInboxTest() : ChannelProtocolTest(InboxShape{8, 128}) {}
};

TEST_F(WideInboxTest, AReaderWaitingForSomethingElseAnswersACreditAsk) {
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(Send(Small(i)).ok());  // the inbox is full
  EXPECT_EQ(*Receive(), Small(0));  // one slot consumed, less than a batch: kept
  // While the writer waits for credit, the reader waits for a broadcast
  // that never comes, for less than its spinning time (which, if it ran
  // out, would hand every slot back anyway); spinning, it answers the
  // writer's ask.
  int idles = 0;
  ASSERT_TRUE(SendWhile(Small(8), [&](Backoff& backoff) {
                if (idles++ == 0) {
                  std::string none;
                  absl::Status waited = reader_->receiver.Fetch(
                      MessageKind::kBroadcast, kWriter, Deadline::After(absl::Microseconds(30)),
                      &none, nullptr, nullptr);
                  EXPECT_TRUE(absl::IsDeadlineExceeded(waited)) << waited;
                }
                window_.DeliverAll();
                backoff.Pause();
                return absl::OkStatus();
              }).ok());
  EXPECT_EQ(idles, 1) << "the credit was not there after the reader's wait";
  EXPECT_EQ(writer_->stats.objects_sent_pushed, 9u);
  EXPECT_EQ(writer_->stats.objects_sent_pulled_for_credit, 0u);
  window_.DeliverAll();
  for (int i = 1; i < 9; ++i) EXPECT_EQ(*Receive(), Small(i));
}

TEST_F(ChannelProtocolTest, ALaterMessageLandingFirstWaitsForTheEarlierOne) {
  ASSERT_TRUE(Send(Small(0)).ok());  // pushed: a put in flight
  ASSERT_TRUE(Send(Large(1)).ok());  // pulled: its notice in flight
  ASSERT_TRUE(Send(Small(2)).ok());  // pushed
  // The notice of #1 and the record of #2 land; the record of #0 does not.
  window_.HoldOldest();
  absl::StatusOr<std::string> early = Receive(absl::ZeroDuration());
  EXPECT_TRUE(absl::IsDeadlineExceeded(early.status())) << early.status();
  EXPECT_THAT(std::string(early.status().message()), HasSubstr("send_to/1/from/0/#0"));
  ASSERT_EQ(window_.in_flight_to(kReader), 1u);
  window_.LandHeld();
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::string> got = Receive();
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, i == 1 ? Large(1) : Small(i));
  }
}

TEST_F(ChannelProtocolTest, ATornRecordIsNeverDelivered) {
  ASSERT_TRUE(Send(std::string(70, 't')).ok());
  window_.TearOldest(60);  // the header and part of the payload
  absl::StatusOr<std::string> torn = Receive(absl::ZeroDuration());
  EXPECT_TRUE(absl::IsDeadlineExceeded(torn.status())) << torn.status();
  window_.LandHeld();
  EXPECT_EQ(*Receive(), std::string(70, 't'));
}

TEST_F(ChannelProtocolTest, ExpiredMessagesAreNotFoundWithTheirTimesWhicheverPathTheyTook) {
  ASSERT_TRUE(Send(Small(0)).ok());
  ASSERT_TRUE(Send(Large(1)).ok());
  window_.DeliverAll();
  now_ += absl::Hours(2);
  ASSERT_TRUE(writer_->publisher.ExpireData(now_).ok());
  EXPECT_EQ(writer_->stats.reclaimed_by_expiration, 2u);
  EXPECT_TRUE(writer_->publisher.entries().empty());
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<std::string> got = Receive();
    EXPECT_TRUE(absl::IsNotFound(got.status())) << "message " << i << ": " << got.status();
    EXPECT_THAT(std::string(got.status().message()), HasSubstr("expired before it was read"));
    EXPECT_THAT(std::string(got.status().message()), HasSubstr("2027-01-15 08:00:00.000 UTC"));
  }
  // The stream goes on.
  ASSERT_TRUE(Send(Small(2)).ok());
  EXPECT_EQ(*Receive(), Small(2));
}

TEST_F(ChannelProtocolTest, AMessageExpiringWhileItIsReadIsNotFound) {
  const std::string large = Large(0) + std::string(2000, 'e');  // one pulled chunk
  ASSERT_TRUE(Send(large).ok());
  window_.DeliverAll();
  // Old enough that its reader checks it again after reading it ...
  now_ += absl::Minutes(40);
  // ... and the publisher expires (and may reuse) it while the bytes travel.
  window_.AfterNextGet(large.size(), [this] {
    now_ += absl::Minutes(30);
    ASSERT_TRUE(writer_->publisher.ExpireData(now_).ok());
  });
  absl::StatusOr<std::string> got = Receive();
  EXPECT_TRUE(absl::IsNotFound(got.status())) << got.status();
  EXPECT_THAT(std::string(got.status().message()), HasSubstr("expired before it was read"));
  EXPECT_THAT(std::string(got.status().message()), HasSubstr("2027-01-15 09:10:00.000 UTC"));
  // The stream stays in step.
  ASSERT_TRUE(Send(Small(1)).ok());
  EXPECT_EQ(*Receive(), Small(1));
}

TEST_F(ChannelProtocolTest, AMessageCutShortIsWithdrawnAndTheNextOneArrives) {
  // 40 KiB in 4 KiB chunks does not fit the ring (8 descriptors) while
  // nobody reads: the send gives up part-way (no time to wait).
  const std::string big(40 << 10, 'w');
  absl::Status status = Send(big, Deadline::At(absl::InfinitePast()));
  ASSERT_TRUE(absl::IsResourceExhausted(status)) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("waiting for rank 1 to read"));
  // The reader reads what is there, then runs out of time: what it read
  // is kept, and its acknowledgements free the ring.
  absl::StatusOr<std::string> partial = Receive(absl::ZeroDuration());
  EXPECT_TRUE(absl::IsDeadlineExceeded(partial.status())) << partial.status();
  ASSERT_TRUE(reader_->receiver.ReturnAllCredits(Receiver::Completion::kAtTarget).ok());
  // The next message is published after the withdrawal marker; the reader
  // goes on, drops the withdrawn message, and gets the next one.
  absl::Status next = Send(Small(1));
  ASSERT_TRUE(next.ok()) << next;
  absl::StatusOr<std::string> got = Receive();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, Small(1));
  EXPECT_EQ(reader_->receiver.recv_count(kWriter), 2u) << "#0 (withdrawn) and #1";
}

TEST_F(ChannelProtocolTest, AReceiveThatRunsOutOfTimeMidMessageLosesNothing) {
  const std::string big(20 << 10, 'p');  // 5 chunks
  ASSERT_TRUE(Send(big.substr(0, 12 << 10) + big.substr(12 << 10)).ok());
  window_.DeliverAll();
  // Only 3 of the 5 chunks announced when the reader looks (the notice
  // rewound by hand).
  uint64_t announced = 3;
  std::memcpy(reader_->rma.local(layout_.notice(kWriter, InboxStream::kP2p)), &announced, 8);
  absl::StatusOr<std::string> early = Receive(absl::ZeroDuration());
  EXPECT_TRUE(absl::IsDeadlineExceeded(early.status())) << early.status();
  announced = 5;
  std::memcpy(reader_->rma.local(layout_.notice(kWriter, InboxStream::kP2p)), &announced, 8);
  absl::StatusOr<std::string> got = Receive();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, big);
}

}  // namespace
}  // namespace fastvideo::dist
