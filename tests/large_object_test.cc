// A 1 GiB object through a 64 MiB window segment: chunks with flow control.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdint>
#include <numeric>
#include <vector>

#include "dist/hash.h"
#include "dist/stateless_process_group.h"
#include "tests/mpi_test_util.h"

namespace fastvideo {
namespace {

TEST(LargeObjectTest, OneGibibyteThroughASixtyFourMebibyteSegment) {
  const GroupOptions options =
      testing::TestGroupOptions(uint64_t{64} << 20, "", absl::Seconds(200));
  ASSERT_OK_AND_ASSIGN(StatelessProcessGroup group,
                       StatelessProcessGroup::Create(MPI_COMM_WORLD, options));
  if (group.world_size() < 2) GTEST_SKIP() << "needs two ranks";
  constexpr uint64_t kBytes = uint64_t{1} << 30;
  if (group.rank() == 0) {
    std::vector<uint64_t> object(kBytes / 8);
    std::iota(object.begin(), object.end(), uint64_t{0x1234});
    const uint64_t checksum = dist::Hash64(object.data(), kBytes);
    ASSERT_OK(group.send_obj(checksum, 1));
    ASSERT_OK(group.send_obj(object, 1));
    // It never held more than its segment.
    EXPECT_LE(group.stats().peak_bytes_in_use, options.window_bytes);
  } else if (group.rank() == 1) {
    ASSERT_OK_AND_ASSIGN(uint64_t checksum, group.recv_obj<uint64_t>(0));
    ASSERT_OK_AND_ASSIGN(std::vector<uint64_t> object,
                         group.recv_obj<std::vector<uint64_t>>(0));
    ASSERT_EQ(object.size() * 8, kBytes);
    EXPECT_EQ(object[12345], 0x1234u + 12345);
    EXPECT_EQ(dist::Hash64(object.data(), kBytes), checksum);
  }
  ASSERT_OK(group.barrier());
  ASSERT_OK(group.progress());
  EXPECT_EQ(group.stats().bytes_in_use, 0u);
}

// Above 2 GiB: MPI counts are int, so no single MPI call may carry it all;
// the chunks (at most a quarter of the segment) keep every count small.
TEST(LargeObjectTest, AnObjectAboveTwoGibibytes) {
  const GroupOptions options =
      testing::TestGroupOptions(uint64_t{64} << 20, "", absl::Seconds(300));
  ASSERT_OK_AND_ASSIGN(StatelessProcessGroup group,
                       StatelessProcessGroup::Create(MPI_COMM_WORLD, options));
  if (group.world_size() < 2) GTEST_SKIP() << "needs two ranks";
  constexpr uint64_t kBytes = (uint64_t{1} << 31) + (uint64_t{1} << 27);  // 2.125 GiB
  if (group.rank() == 0) {
    std::vector<uint8_t> object(kBytes);
    for (uint64_t i = 0; i < kBytes; i += 4096) object[i] = static_cast<uint8_t>(i >> 12);
    object.back() = 0xEE;
    ASSERT_OK(group.send_obj(object, 1));
  } else if (group.rank() == 1) {
    std::vector<uint8_t> object;
    ASSERT_OK(group.recv_obj_into(object, 0));
    ASSERT_EQ(object.size(), kBytes);
    EXPECT_EQ(object[uint64_t{1} << 31], static_cast<uint8_t>((uint64_t{1} << 31) >> 12));
    EXPECT_EQ(object[12345 * 4096], static_cast<uint8_t>(12345));
    EXPECT_EQ(object.back(), 0xEE);
  }
  ASSERT_OK(group.barrier());
}

}  // namespace
}  // namespace fastvideo
