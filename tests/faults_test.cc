// Faults a long job meets: a slow reader that fills the publisher's
// segment, a message withdrawn part-way, bad options and empty objects.
// Nothing accepted is lost, nothing is delivered twice, the group stays
// usable.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <mpi.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dist/stateless_process_group.h"
#include "tests/mpi_test_util.h"

// A user type whose codec announces a size it does not keep to (a bug in
// user code the channel must survive).
struct Misreported {
  uint64_t announced = 0;
  uint64_t written = 0;
};

template <>
struct fastvideo::dist::Codec<Misreported> {
  static std::string Tag() { return "Misreported"; }
  static void Encode(const Misreported& value, Writer& out) {
    out.PutBytes(std::string(value.written, 'm').data(), value.written);
  }
  static absl::Status Decode(Reader& in, Misreported& value) {
    value.written = in.remaining();
    return in.GetBytes(std::string(value.written, '\0').data(), value.written);
  }
  static uint64_t EncodedSize(const Misreported& value) { return value.announced; }
};

namespace fastvideo {
namespace {

using ::testing::HasSubstr;

GroupOptions OneMebibyteWindow() { return testing::TestGroupOptions(1 << 20); }

// Message i: 100 KB of the byte i, so a duplicate or a swap shows.
std::string Payload(int i, size_t size = 100000) {
  return std::string(size, static_cast<char>('a' + i % 26));
}

TEST(FaultsTest, SlowReaderThenCatchUpLosesNothingAndRepeatsNothing) {
  ASSERT_OK_AND_ASSIGN(StatelessProcessGroup group,
                       StatelessProcessGroup::Create(MPI_COMM_WORLD, OneMebibyteWindow()));
  if (group.world_size() < 2) GTEST_SKIP() << "needs a reader";
  int accepted = 0;
  if (group.rank() == 0) {
    // Rank 1 reads nothing yet: the segment fills up.
    absl::Status status;
    while ((status = group.send_obj(Payload(accepted), 1,
                                    absl::Now() + absl::Milliseconds(200)))
               .ok()) {
      ++accepted;
      ASSERT_LT(accepted, 1000) << "the segment never filled";
    }
    EXPECT_TRUE(absl::IsResourceExhausted(status)) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("waiting for rank 1 to read"));
    EXPECT_THAT(std::string(status.message()),
                HasSubstr(absl::StrCat("send_to/1/from/0/#", accepted)));
    EXPECT_GT(accepted, 3);
  }
  MPI_Bcast(&accepted, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (group.rank() == 1) {
    for (int i = 0; i < accepted; ++i) {
      ASSERT_OK_AND_ASSIGN(std::string got, group.recv_obj<std::string>(0));
      ASSERT_EQ(got, Payload(i)) << "message " << i;
    }
    // The refused message was never delivered.
    EXPECT_TRUE(absl::IsDeadlineExceeded(
        group.recv_obj<std::string>(0, absl::InfinitePast()).status()));
  }
  ASSERT_OK(group.barrier());
  // The stream goes on where it stopped.
  if (group.rank() == 0) ASSERT_OK(group.send_obj(Payload(accepted), 1));
  if (group.rank() == 1) {
    ASSERT_OK_AND_ASSIGN(std::string next, group.recv_obj<std::string>(0));
    EXPECT_EQ(next, Payload(accepted));
  }
  ASSERT_OK(group.barrier());
}

TEST(FaultsTest, AMessageCutShortIsWithdrawnNotHalfDelivered) {
  ASSERT_OK_AND_ASSIGN(StatelessProcessGroup group,
                       StatelessProcessGroup::Create(MPI_COMM_WORLD, OneMebibyteWindow()));
  if (group.world_size() < 2) GTEST_SKIP() << "needs a reader";
  if (group.rank() == 0) {
    for (int i = 0; i < 3; ++i) ASSERT_OK(group.send_obj(Payload(i), 1));
    // Four chunks; only some fit before the reader has read anything.
    absl::Status status = group.send_obj(Payload(9, 600000), 1,
                                         absl::Now() + absl::Milliseconds(200));
    EXPECT_TRUE(absl::IsResourceExhausted(status)) << status;
    ASSERT_OK(group.progress());  // publishes the withdrawal marker
  }
  ASSERT_OK(group.barrier());
  if (group.rank() == 0) ASSERT_OK(group.send_obj(std::string("after"), 1));
  if (group.rank() == 1) {
    for (int i = 0; i < 3; ++i) {
      ASSERT_OK_AND_ASSIGN(std::string got, group.recv_obj<std::string>(0));
      EXPECT_EQ(got, Payload(i));
    }
    ASSERT_OK_AND_ASSIGN(std::string after, group.recv_obj<std::string>(0));
    EXPECT_EQ(after, "after");
  }
  ASSERT_OK(group.barrier());
  ASSERT_OK(group.progress());
  EXPECT_EQ(group.stats().bytes_in_use, 0u);
}

TEST(FaultsTest, BadOptionsAreRefusedWithTheSizes) {
  GroupOptions zero;
  zero.window_bytes = 0;
  absl::StatusOr<StatelessProcessGroup> none = StatelessProcessGroup::Create(MPI_COMM_WORLD, zero);
  EXPECT_TRUE(absl::IsInvalidArgument(none.status())) << none.status();
  EXPECT_THAT(std::string(none.status().message()),
              HasSubstr("window segment of 0 bytes is too small"));

  GroupOptions tiny;
  tiny.window_bytes = 8192;
  auto small = StatelessProcessGroup::Create(MPI_COMM_WORLD, tiny);
  EXPECT_TRUE(absl::IsInvalidArgument(small.status())) << small.status();

  GroupOptions negative;
  negative.data_expiration_seconds = -1;
  auto expiring = StatelessProcessGroup::Create(MPI_COMM_WORLD, negative);
  EXPECT_TRUE(absl::IsInvalidArgument(expiring.status())) << expiring.status();
  EXPECT_THAT(std::string(expiring.status().message()),
              HasSubstr("data_expiration_seconds must be >= 0, got -1"));

  // A failed creation leaves nothing behind: a good one still works.
  ASSERT_OK_AND_ASSIGN(StatelessProcessGroup group,
                       StatelessProcessGroup::Create(MPI_COMM_WORLD, OneMebibyteWindow()));
  ASSERT_OK(group.barrier());
}

TEST(FaultsTest, MembersThatDisagreeOnTheWindowAreTold) {
  if (testing::WorldSize() < 2) GTEST_SKIP() << "needs two members";
  GroupOptions options = OneMebibyteWindow();
  options.window_bytes += testing::WorldRank() * 4096;
  auto group = StatelessProcessGroup::Create(MPI_COMM_WORLD, options);
  EXPECT_TRUE(absl::IsInvalidArgument(group.status())) << group.status();
  EXPECT_THAT(std::string(group.status().message()), HasSubstr("members disagree on the window"));
}

TEST(FaultsTest, EmptyObjectsAndSendToSelf) {
  ASSERT_OK_AND_ASSIGN(StatelessProcessGroup group,
                       StatelessProcessGroup::Create(MPI_COMM_WORLD, OneMebibyteWindow()));
  const int me = group.rank();
  ASSERT_OK(group.send_obj(std::string(), me));
  ASSERT_OK(group.send_obj(std::vector<int>(), me));
  ASSERT_OK(group.send_obj(std::monostate(), me));
  ASSERT_OK_AND_ASSIGN(std::string text, group.recv_obj<std::string>(me));
  EXPECT_TRUE(text.empty());
  ASSERT_OK_AND_ASSIGN(std::vector<int> numbers, group.recv_obj<std::vector<int>>(me));
  EXPECT_TRUE(numbers.empty());
  EXPECT_OK(group.recv_obj<std::monostate>(me).status());
  ASSERT_OK_AND_ASSIGN(auto all, group.all_gather_obj(std::string()));
  EXPECT_EQ(all.size(), static_cast<size_t>(group.world_size()));
}

TEST(FaultsTest, ACodecThatMisreportsItsSizePublishesNothing) {
  GroupOptions options = OneMebibyteWindow();
  options.window_bytes = 8 << 20;  // chunks of about 2 MiB
  ASSERT_OK_AND_ASSIGN(StatelessProcessGroup group,
                       StatelessProcessGroup::Create(MPI_COMM_WORLD, options));
  const int me = group.rank(), n = group.world_size();
  const int dst = (me + 1) % n, src = (me - 1 + n) % n;
  // Large enough to be encoded straight into the window (one chunk), and
  // through the send buffer (several chunks).
  for (uint64_t announced : {uint64_t{300} << 10, uint64_t{3} << 20}) {
    for (uint64_t written : {announced - 1, announced + 1}) {
      absl::Status status = group.send_obj(Misreported{announced, written}, dst);
      EXPECT_TRUE(absl::IsInternal(status)) << status;
      EXPECT_THAT(std::string(status.message()), HasSubstr("did not write the"));
    }
  }
  EXPECT_TRUE(group.entries().empty());
  EXPECT_EQ(group.send_dst_counter()[dst], 0u);
  // Nothing half-published: the next object is the first the peer sees.
  ASSERT_OK(group.send_obj(Misreported{300 << 10, 300 << 10}, dst));
  ASSERT_OK_AND_ASSIGN(Misreported got, group.recv_obj<Misreported>(src));
  EXPECT_EQ(got.written, uint64_t{300} << 10);
}

TEST(FaultsTest, MismatchedCollectivesAreReportedNotMisdelivered) {
  ASSERT_OK_AND_ASSIGN(StatelessProcessGroup group,
                       StatelessProcessGroup::Create(MPI_COMM_WORLD, OneMebibyteWindow()));
  if (group.world_size() < 2) GTEST_SKIP() << "needs two members";
  // Rank 0 broadcasts; rank 1 calls all_gather instead.
  if (group.rank() == 0) {
    ASSERT_OK(group.broadcast_obj(1, 0).status());
  } else if (group.rank() == 1) {
    // Rank 1 publishes its own part first, then finds rank 0's broadcast.
    absl::Status status = group.all_gather_obj(1, absl::Now() + absl::Seconds(20)).status();
    EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("published broadcast_obj there"));
    // The broadcast is still there for the right call.
    ASSERT_OK_AND_ASSIGN(int value, group.broadcast_obj(0, 0));
    EXPECT_EQ(value, 1);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

}  // namespace
}  // namespace fastvideo
