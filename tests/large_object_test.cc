// A 1 GiB object through a 64 MiB window segment: chunks with flow control.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdint>
#include <numeric>
#include <vector>

#include "dist/internal/hash.h"
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
  // The segment was reused 16 times over: every chunk was reclaimed.
  if (group.rank() == 0) {
    EXPECT_GE(group.stats().reclaimed_bytes_by_ack, kBytes);
  }
}

// Collectives the same way: a 1 GiB broadcast, and an all_gather whose
// every part is 1 GiB, so that each member waits for room while the others'
// parts wait for it to read them (it reads them while it waits).
TEST(LargeObjectTest, OneGibibyteBroadcastAndAllGatherPartsThroughASixtyFourMebibyteSegment) {
  const GroupOptions options =
      testing::TestGroupOptions(uint64_t{64} << 20, "", absl::Seconds(250));
  ASSERT_OK_AND_ASSIGN(StatelessProcessGroup group,
                       StatelessProcessGroup::Create(MPI_COMM_WORLD, options));
  constexpr uint64_t kBytes = uint64_t{1} << 30;
  const int me = group.rank();
  {
    std::vector<uint8_t> object;
    if (me == 0) {
      object.assign(kBytes, 0);
      for (uint64_t i = 0; i < kBytes; i += 4096) object[i] = static_cast<uint8_t>(i >> 12);
    }
    ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> got, group.broadcast_obj(object, 0));
    ASSERT_EQ(got.size(), kBytes);
    EXPECT_EQ(got[77 * 4096], 77);
    EXPECT_EQ(got.back(), 0);
  }
  std::vector<uint8_t> part(kBytes, static_cast<uint8_t>(me + 1));
  part.back() = static_cast<uint8_t>(0xA0 + me);
  ASSERT_OK_AND_ASSIGN(std::vector<std::vector<uint8_t>> parts, group.all_gather_obj(part));
  std::vector<uint8_t>().swap(part);
  ASSERT_EQ(parts.size(), static_cast<size_t>(group.world_size()));
  for (int r = 0; r < group.world_size(); ++r) {
    ASSERT_EQ(parts[r].size(), kBytes) << "part of rank " << r;
    EXPECT_EQ(parts[r][kBytes / 2], r + 1) << "part of rank " << r;
    EXPECT_EQ(parts[r].back(), 0xA0 + r) << "part of rank " << r;
  }
  ASSERT_OK(group.barrier());
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
