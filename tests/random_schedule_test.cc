// A seeded random schedule of point-to-point sends, broadcasts, all_gathers
// and barriers, the same on every rank. Every message carries its schedule
// index and a checksum; every rank checks everything it receives, and at
// the end the counts agree: nothing lost, nothing twice, nothing mixed.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dist/internal/hash.h"
#include "dist/stateless_process_group.h"
#include "tests/mpi_test_util.h"

namespace fastvideo {
namespace {

constexpr uint64_t kSeed = 20261125;
constexpr int kOperations = 100000;

struct Message {
  uint64_t index = 0;
  std::string body;
  uint64_t checksum = 0;
  bool operator==(const Message& other) const {
    return index == other.index && body == other.body && checksum == other.checksum;
  }
};

}  // namespace
}  // namespace fastvideo

template <>
struct fastvideo::dist::Codec<fastvideo::Message> {
  static std::string Tag() { return "Message"; }
  static void Encode(const fastvideo::Message& m, Writer& out) {
    out.Put(m.index, m.body, m.checksum);
  }
  static absl::Status Decode(Reader& in, fastvideo::Message& m) {
    return in.Get(m.index, m.body, m.checksum);
  }
};

namespace fastvideo {
namespace {

Message MakeMessage(uint64_t index, size_t size) {
  Message message{index, std::string(size, '\0'), 0};
  std::mt19937_64 bytes(index);
  for (char& c : message.body) c = static_cast<char>(bytes());
  message.checksum = dist::Hash64(message.body.data(), size, index);
  return message;
}

TEST(RandomScheduleTest, HundredThousandOperationsLoseNothing) {
  const GroupOptions options = testing::TestGroupOptions(2 << 20, "", absl::Seconds(120));
  ASSERT_OK_AND_ASSIGN(StatelessProcessGroup group,
                       StatelessProcessGroup::Create(MPI_COMM_WORLD, options));
  const int n = group.world_size(), me = group.rank();
  std::mt19937_64 schedule(kSeed);
  uint64_t sent = 0, received = 0, collectives = 0;
  for (uint64_t op = 0; op < kOperations; ++op) {
    const uint64_t kind = schedule() % 1000;
    // Mostly small objects, many around the 256-byte inbox slot (records
    // of one slot or two) and some around the largest record (2000 bytes
    // of payload: pushed or pulled by a few bytes); now and then a larger
    // one, and rarely one that needs several chunks of the 2 MiB window.
    const uint64_t roll = schedule() % 1000;
    const size_t size = roll < 600   ? roll % 120
                        : roll < 850 ? 120 + roll % 160
                        : roll < 930 ? 1900 + roll % 200
                        : roll < 995 ? 200 + roll * 17
                                     : 700000 + roll;
    if (kind < 985) {
      const int src = static_cast<int>(schedule() % n);
      const int dst = static_cast<int>(schedule() % n);
      if (src == me) {
        ASSERT_OK(group.send_obj(MakeMessage(op, size), dst));
        ++sent;
      }
      if (dst == me) {
        ASSERT_OK_AND_ASSIGN(Message got, group.recv_obj<Message>(src));
        ASSERT_EQ(got.index, op) << "from rank " << src;
        ASSERT_EQ(dist::Hash64(got.body.data(), got.body.size(), op), got.checksum);
        ASSERT_EQ(got.body.size(), size);
        ++received;
      }
    } else if (kind < 993) {
      const int root = static_cast<int>(schedule() % n);
      Message mine = me == root ? MakeMessage(op, size % 5000) : Message{};
      ASSERT_OK_AND_ASSIGN(Message got, group.broadcast_obj(mine, root));
      ASSERT_EQ(got, MakeMessage(op, size % 5000));
      ++collectives;
    } else if (kind < 997) {
      ASSERT_OK_AND_ASSIGN(auto all, group.all_gather_obj(MakeMessage(op * 64 + me, 16)));
      for (int r = 0; r < n; ++r) ASSERT_EQ(all[r], MakeMessage(op * 64 + r, 16));
      ++collectives;
    } else {
      ASSERT_OK(group.barrier());
      ++collectives;
    }
  }
  // Every rank agrees on the totals, and nothing is left unread.
  uint64_t counts[2] = {sent, received}, totals[2] = {0, 0};
  MPI_Allreduce(counts, totals, 2, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  EXPECT_EQ(totals[0], totals[1]);
  ASSERT_OK(group.barrier());
  ASSERT_OK(group.progress());
  EXPECT_EQ(group.stats().bytes_in_use, 0u);
  EXPECT_TRUE(group.entries().empty());
  if (me == 0) {
    std::printf("random schedule: %d operations, %llu messages, %llu collectives, "
                "peak segment use %llu bytes\n",
                kOperations, static_cast<unsigned long long>(totals[0]),
                static_cast<unsigned long long>(collectives),
                static_cast<unsigned long long>(group.stats().peak_bytes_in_use));
  }
}

}  // namespace
}  // namespace fastvideo
