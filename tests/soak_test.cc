// Soak: 8 ranks, three overlapping groups, a seeded mix of every operation
// with objects from 0 B to 8 MiB, for at least a minute of work. At the end
// every message is accounted for on both sides (counts and checksums), every
// segment is empty again, and memory did not grow after the warm-up: the
// bytes malloc has handed out grew less than a stated bound, and resident
// memory less than that bound plus the windows this rank can map. (Resident
// memory alone is no leak measure: a window page counts only once touched,
// and the rings reach their last pages late.) The figures are printed for
// the CI log.
#include <gtest/gtest.h>
#include <malloc.h>
#include <mpi.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "dist/internal/hash.h"
#include "dist/stateless_process_group.h"
#include "tests/mpi_test_util.h"

namespace fastvideo {
namespace {

constexpr uint64_t kSeed = 8128;
constexpr int64_t kGrowthBoundMiB = 48;
#ifdef __SANITIZE_ADDRESS__
// ASan replaces malloc and its quarantine holds on to freed memory (256 MiB
// by default): neither figure measures leaks there; LeakSanitizer does.
constexpr bool kCheckMemory = false;
#else
constexpr bool kCheckMemory = true;
#endif
constexpr double kMinimumSeconds = 60;

// Lines of /proc/self/status, in MiB: "VmRSS:", "RssAnon:", "RssShmem:".
int64_t StatusMiB(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string key;
  int64_t kib = 0;
  while (status >> key) {
    if (key == field) {
      status >> kib;
      break;
    }
  }
  return kib / 1024;
}

// What malloc has handed out and not got back, from its arenas and mmaps.
int64_t HeapInUseMiB() {
  const struct mallinfo2 info = mallinfo2();
  return static_cast<int64_t>((info.uordblks + info.hblkhd) >> 20);
}

struct Memory {
  int64_t heap = 0, resident = 0, anonymous = 0, shared = 0;
  static Memory Now() {
    return {HeapInUseMiB(), StatusMiB("VmRSS:"), StatusMiB("RssAnon:"),
            StatusMiB("RssShmem:")};
  }
  std::string ToString() const {
    return "heap in use " + std::to_string(heap) + " MiB, resident " +
           std::to_string(resident) + " MiB (" + std::to_string(anonymous) +
           " private, " + std::to_string(shared) + " shared)";
  }
};

std::string Object(uint64_t op, size_t size) {
  std::string bytes(size, '\0');
  std::mt19937_64 random(op);
  for (size_t i = 0; i < size; i += 8) {
    const uint64_t word = random();
    std::memcpy(&bytes[i], &word, std::min<size_t>(8, size - i));
  }
  return bytes;
}

struct Tally {
  uint64_t operations = 0, sent = 0, received = 0, bytes = 0;
  uint64_t sent_sum = 0, received_sum = 0;  // checksums added up
};

TEST(SoakTest, EveryOperationForAMinuteNothingLostNothingLeaked) {
  const int me = testing::WorldRank(), n = testing::WorldSize();
  GroupOptions options;
  options.window_bytes = 16 << 20;
  options.default_timeout = absl::Seconds(120);
  std::vector<StatelessProcessGroup> groups;
  std::vector<std::vector<int>> members;
  members.push_back({});
  for (int r = 0; r < n; ++r) members[0].push_back(r);
  members.push_back({});  // the first half
  members.push_back({});  // the middle half, overlapping it
  for (int r = 0; r < n / 2 + 1; ++r) members[1].push_back(r);
  for (int r = n / 4; r < n / 4 + n / 2 + 1 && r < n; ++r) members[2].push_back(r);
  std::vector<std::optional<int>> my_index(members.size());
  for (size_t g = 0; g < members.size(); ++g) {
    for (size_t i = 0; i < members[g].size(); ++i) {
      if (members[g][i] == me) my_index[g] = static_cast<int>(i);
    }
  }
  std::vector<std::optional<StatelessProcessGroup>> joined(members.size());
  for (size_t g = 0; g < members.size(); ++g) {
    if (!my_index[g]) continue;
    options.name = "soak" + std::to_string(g);
    ASSERT_OK_AND_ASSIGN(joined[g], StatelessProcessGroup::CreateFromRanks(
                                        MPI_COMM_WORLD, members[g], options));
  }

  std::mt19937_64 schedule(kSeed);
  Tally tally;
  const absl::Time start = absl::Now();
  std::optional<Memory> warm;
  int64_t peak_rss = 0;
  bool more = true;
  for (uint64_t op = 0; more; ++op) {
    const size_t g = schedule() % members.size();
    const int size_of_group = static_cast<int>(members[g].size());
    const uint64_t kind = schedule() % 100;
    const uint64_t roll = schedule() % 1000;
    const size_t bytes = roll < 700 ? roll % 200                // small: one inbox slot or two
                         : roll < 990 ? 1000 + roll * 97        // up to ~100 KB
                                      : (roll - 989) * 800000;  // up to ~8 MiB
    const int a = static_cast<int>(schedule() % size_of_group);
    const int b = static_cast<int>(schedule() % size_of_group);
    if (my_index[g]) {
      StatelessProcessGroup& group = *joined[g];
      const int mine = *my_index[g];
      if (kind < 80) {  // a to b, point to point
        if (mine == a) {
          const std::string object = Object(op, bytes);
          ASSERT_OK(group.send_obj(object, b));
          ++tally.sent;
          tally.sent_sum += dist::Hash64(object.data(), object.size(), op);
          tally.bytes += bytes;
        }
        if (mine == b) {
          ASSERT_OK_AND_ASSIGN(std::string got, group.recv_obj<std::string>(a));
          ASSERT_EQ(got.size(), bytes) << "op " << op;
          ++tally.received;
          tally.received_sum += dist::Hash64(got.data(), got.size(), op);
        }
      } else if (kind < 90) {  // broadcast from a
        const std::string object = mine == a ? Object(op, bytes % 300000) : std::string();
        ASSERT_OK_AND_ASSIGN(std::string got, group.broadcast_obj(object, a));
        ASSERT_EQ(got, Object(op, bytes % 300000)) << "op " << op;
      } else if (kind < 97) {  // all_gather
        ASSERT_OK_AND_ASSIGN(auto all, group.all_gather_obj(op * 100 + mine));
        for (int r = 0; r < size_of_group; ++r) ASSERT_EQ(all[r], op * 100 + r);
      } else {
        ASSERT_OK(group.barrier());
      }
      ++tally.operations;
    }
    if (op % 500 == 499) {  // everyone agrees whether to go on
      int go_on = absl::Now() - start < absl::Seconds(kMinimumSeconds) ? 1 : 0;
      MPI_Bcast(&go_on, 1, MPI_INT, 0, MPI_COMM_WORLD);
      more = go_on == 1;
      peak_rss = std::max(peak_rss, StatusMiB("VmRSS:"));
      // Open MPI's free lists grow in steps of a few MiB, never shrink, and
      // level off after about half a minute here: the warm-up takes a third.
      if (!warm && absl::Now() - start > absl::Seconds(kMinimumSeconds / 3)) {
        warm = Memory::Now();
      }
    }
  }

  uint64_t peak_segment = 0;
  for (auto& group : joined) {
    if (!group) continue;
    ASSERT_OK(group->barrier());
    ASSERT_OK(group->progress());
    EXPECT_EQ(group->stats().bytes_in_use, 0u) << group->name();
    EXPECT_TRUE(group->entries().empty()) << group->name();
    peak_segment = std::max(peak_segment, group->stats().peak_bytes_in_use);
  }
  uint64_t mine[5] = {tally.sent, tally.received, tally.sent_sum, tally.received_sum,
                      tally.operations};
  uint64_t total[5] = {0, 0, 0, 0, 0};
  MPI_Allreduce(mine, total, 5, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  EXPECT_EQ(total[0], total[1]) << "messages sent vs received";
  EXPECT_EQ(total[2], total[3]) << "checksums sent vs received";
  uint64_t bytes = 0;
  MPI_Allreduce(&tally.bytes, &bytes, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  const Memory end = Memory::Now();
  // On shared memory a rank may touch every member's segment, over TCP only
  // its own: the first is a bound for both.
  int64_t window_mib = 0;
  for (size_t g = 0; g < members.size(); ++g) {
    if (my_index[g]) window_mib += members[g].size() * (options.window_bytes >> 20);
  }
  if (kCheckMemory) {
    ASSERT_TRUE(warm.has_value());
    EXPECT_LT(end.heap - warm->heap, kGrowthBoundMiB)
        << "rank " << me << ": malloc's bytes in use grew; after warm-up "
        << warm->ToString() << ", at the end " << end.ToString();
    EXPECT_LT(end.resident - warm->resident, kGrowthBoundMiB + window_mib)
        << "rank " << me << ": resident memory grew by more than its windows ("
        << window_mib << " MiB); after warm-up " << warm->ToString() << ", at the end "
        << end.ToString();
  }
  if (me == 0) {
    std::printf(
        "soak: %.0f s, %llu operations on %d ranks in 3 groups, %llu messages "
        "(%.1f MiB point to point), peak segment use %llu bytes; rank 0 after "
        "warm-up: %s; at the end: %s; peak resident %lld MiB; growth bound +%lld MiB "
        "(+%lld MiB of windows for resident memory)%s\n",
        absl::ToDoubleSeconds(absl::Now() - start),
        static_cast<unsigned long long>(total[4]), n,
        static_cast<unsigned long long>(total[0]), bytes / 1048576.0,
        static_cast<unsigned long long>(peak_segment),
        warm ? warm->ToString().c_str() : "not reached", end.ToString().c_str(),
        static_cast<long long>(peak_rss), static_cast<long long>(kGrowthBoundMiB),
        static_cast<long long>(window_mib), kCheckMemory ? "" : ", not checked under ASan");
  }
}

}  // namespace
}  // namespace fastvideo
