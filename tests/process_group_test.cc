// Multi-rank behaviour of StatelessProcessGroup: ordering, no loss, the
// collectives, groups side by side, reclamation and errors.
#include <glog/logging.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "dist/stateless_process_group.h"
#include "tests/mpi_test_util.h"

namespace fastvideo {
namespace {

using ::fastvideo::testing::WorldRank;
using ::fastvideo::testing::WorldSize;
using ::testing::HasSubstr;

GroupOptions SmallWindow(std::string name = "") {
  return testing::TestGroupOptions(1 << 20, std::move(name));
}

StatelessProcessGroup MakeWorld(GroupOptions options = SmallWindow()) {
  absl::StatusOr<StatelessProcessGroup> group =
      StatelessProcessGroup::Create(MPI_COMM_WORLD, std::move(options));
  CHECK(group.ok()) << group.status();
  return *std::move(group);
}

TEST(ProcessGroupTest, RanksComeFromTheCommunicator) {
  StatelessProcessGroup group = MakeWorld();
  EXPECT_EQ(group.rank(), WorldRank());
  EXPECT_EQ(group.world_size(), WorldSize());
  ASSERT_EQ(group.parent_ranks().size(), static_cast<size_t>(WorldSize()));
  for (int r = 0; r < WorldSize(); ++r) EXPECT_EQ(group.parent_ranks()[r], r);
  EXPECT_EQ(group.data_expiration_seconds(), 3600);
}

TEST(ProcessGroupTest, MessagesOfOnePairArriveInOrder) {
  StatelessProcessGroup group = MakeWorld();
  const int n = group.world_size(), me = group.rank();
  const int next = (me + 1) % n, previous = (me - 1 + n) % n;
  constexpr int kMessages = 100;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_OK(group.send_obj(std::make_pair(me, i), next));
  }
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_OK_AND_ASSIGN(auto got, (group.recv_obj<std::pair<int, int>>(previous)));
    EXPECT_EQ(got, std::make_pair(previous, i));
  }
  EXPECT_EQ(group.send_dst_counter()[next], uint64_t{kMessages});
  EXPECT_EQ(group.recv_src_counter()[previous], uint64_t{kMessages});
}

TEST(ProcessGroupTest, ManySendersToOneReceiverLoseAndMixNothing) {
  StatelessProcessGroup group = MakeWorld();
  constexpr int kMessages = 50;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_OK(group.send_obj(absl::StrCat("from ", group.rank(), " #", i), 0));
  }
  if (group.rank() == 0) {
    // Interleave the sources: each stream stays in its own order.
    for (int i = 0; i < kMessages; ++i) {
      for (int src = group.world_size() - 1; src >= 0; --src) {
        ASSERT_OK_AND_ASSIGN(std::string got, group.recv_obj<std::string>(src));
        EXPECT_EQ(got, absl::StrCat("from ", src, " #", i));
      }
    }
  }
  ASSERT_OK(group.barrier());
}

TEST(ProcessGroupTest, AllToAllIncludingSelf) {
  StatelessProcessGroup group = MakeWorld();
  const int n = group.world_size(), me = group.rank();
  for (int round = 0; round < 5; ++round) {
    for (int dst = 0; dst < n; ++dst) {
      ASSERT_OK(group.send_obj(std::vector<int>{me, dst, round}, dst));
    }
    for (int src = 0; src < n; ++src) {
      ASSERT_OK_AND_ASSIGN(auto got, group.recv_obj<std::vector<int>>(src));
      EXPECT_EQ(got, (std::vector<int>{src, me, round}));
    }
  }
}

TEST(ProcessGroupTest, BroadcastFromEveryRankInTurn) {
  StatelessProcessGroup group = MakeWorld();
  for (int src = 0; src < group.world_size(); ++src) {
    std::map<std::string, double> config;
    if (group.rank() == src) config = {{"source", src}, {"lr", 0.5}};
    ASSERT_OK_AND_ASSIGN(auto got, group.broadcast_obj(config, src));
    EXPECT_EQ(got, (std::map<std::string, double>{{"source", src}, {"lr", 0.5}}));
  }
  EXPECT_EQ(group.broadcast_send_counter(), 1u);
  for (int src = 0; src < group.world_size(); ++src) {
    EXPECT_EQ(group.broadcast_recv_src_counter()[src], src == group.rank() ? 0u : 1u);
  }
}

TEST(ProcessGroupTest, AllGatherIsIndexedByRank) {
  StatelessProcessGroup group = MakeWorld();
  for (int round = 0; round < 3; ++round) {
    ASSERT_OK_AND_ASSIGN(
        auto gathered,
        group.all_gather_obj(absl::StrCat("rank ", group.rank(), " round ", round)));
    ASSERT_EQ(gathered.size(), static_cast<size_t>(group.world_size()));
    for (int r = 0; r < group.world_size(); ++r) {
      EXPECT_EQ(gathered[r], absl::StrCat("rank ", r, " round ", round));
    }
  }
}

// Every barrier algorithm, whichever kAuto picks for this rank count and
// transport.
class BarrierTest : public ::testing::TestWithParam<BarrierAlgorithm> {
 protected:
  StatelessProcessGroup MakeGroup() {
    GroupOptions options = SmallWindow();
    options.barrier_algorithm = GetParam();
    return MakeWorld(std::move(options));
  }
};

std::string AlgorithmName(const ::testing::TestParamInfo<BarrierAlgorithm>& info) {
  switch (info.param) {
    case BarrierAlgorithm::kAuto:
      return "Auto";
    case BarrierAlgorithm::kAllToAll:
      return "AllToAll";
    case BarrierAlgorithm::kStar:
      return "Star";
    case BarrierAlgorithm::kDissemination:
      return "Dissemination";
  }
  return "Unknown";
}

INSTANTIATE_TEST_SUITE_P(EveryAlgorithm, BarrierTest,
                         ::testing::Values(BarrierAlgorithm::kAuto, BarrierAlgorithm::kAllToAll,
                                           BarrierAlgorithm::kStar,
                                           BarrierAlgorithm::kDissemination),
                         AlgorithmName);

// Before the barrier every rank publishes a message to every other; after
// it, each must already be there: a zero-wait receive finds it. A rank that
// left the barrier early would find a message missing.
void ExpectBarrierSeparates(StatelessProcessGroup& group, int round) {
  const int n = group.world_size();
  for (int dst = 0; dst < n; ++dst) ASSERT_OK(group.send_obj(round, dst));
  ASSERT_OK(group.barrier());
  for (int src = 0; src < n; ++src) {
    absl::StatusOr<int> got = group.recv_obj<int>(src, absl::InfinitePast());
    ASSERT_TRUE(got.ok()) << "round " << round << ": " << got.status();
    EXPECT_EQ(*got, round);
  }
}

TEST_P(BarrierTest, NoRankLeavesTheBarrierBeforeAllEntered) {
  StatelessProcessGroup group = MakeGroup();
  const int n = group.world_size(), me = group.rank();
  for (int round = 0; round < 30; ++round) {
    // Uneven work before the barrier, different on every rank and round.
    volatile uint64_t sink = 0;
    for (int i = 0; i < ((me * 7 + round * 13) % n) * 20000; ++i) sink = sink + i;
    ExpectBarrierSeparates(group, round);
  }
}

// The last rank comes late: the others time out, naming whom they wait
// for, tell it so, and call barrier() again, which resumes the barrier
// that timed out; from then on every member counts the same barriers.
TEST_P(BarrierTest, ATimedOutBarrierNamesWhomItWaitsForAndIsResumed) {
  StatelessProcessGroup group = MakeGroup();
  const int n = group.world_size(), me = group.rank(), late = n - 1;
  if (n < 2) GTEST_SKIP() << "needs a second rank";
  // All start together: only the late rank is late (8 ASan ranks on 2
  // cores leave the group's creation up to 200 ms apart).
  ASSERT_OK(group.barrier());
  if (me != late) {
    const absl::Status timed_out = group.barrier(absl::Now() + absl::Milliseconds(200));
    ASSERT_TRUE(absl::IsDeadlineExceeded(timed_out)) << timed_out;
    EXPECT_THAT(timed_out.message(), HasSubstr("barrier #1 timed out waiting for rank "));
    const bool waits_for_the_late_one =
        GetParam() == BarrierAlgorithm::kAllToAll ||
        (GetParam() == BarrierAlgorithm::kStar && me == 0);
    if (waits_for_the_late_one) {
      EXPECT_THAT(timed_out.message(), HasSubstr(absl::StrCat("rank ", late, " to arrive")));
    }
    ASSERT_OK(group.send_obj(std::string("late"), late));
  } else {
    for (int src = 0; src < late; ++src) {
      ASSERT_OK_AND_ASSIGN(std::string told, group.recv_obj<std::string>(src));
      EXPECT_EQ(told, "late");
    }
  }
  ASSERT_OK(group.barrier());
  for (int round = 0; round < 5; ++round) ExpectBarrierSeparates(group, round);
}

// A barrier is met only by barriers: members that Close() while the others
// wait in barrier() fail them, and every Close() then returns at once.
TEST_P(BarrierTest, CloseAgainstABarrierIsAMismatchOnEveryMember) {
  StatelessProcessGroup group = MakeGroup();
  const int n = group.world_size(), me = group.rank();
  if (n < 2) GTEST_SKIP() << "needs a second rank";
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  if (me == 0) {
    const absl::Status closed = group.Close(deadline);
    ASSERT_TRUE(absl::IsFailedPrecondition(closed)) << closed;
    EXPECT_THAT(closed.message(), HasSubstr("mismatched collectives"));
    EXPECT_THAT(closed.message(), HasSubstr("rank 0/"));
    return;
  }
  const absl::Status met = group.barrier(deadline);
  ASSERT_TRUE(absl::IsFailedPrecondition(met)) << met;
  EXPECT_THAT(met.message(), HasSubstr("mismatched collectives"));
  // Told by rank 0's note, or by another member that found it first.
  EXPECT_THAT(met.message(), ::testing::AnyOf(HasSubstr("barrier() #0 met rank 0's Close()"),
                                            HasSubstr("left the group's collectives")));
  // Later meetings fail at once, and so does Close: nobody waits for anyone.
  EXPECT_TRUE(absl::IsFailedPrecondition(group.barrier(deadline)));
  const absl::Status closed = group.Close(deadline);
  EXPECT_TRUE(absl::IsFailedPrecondition(closed)) << closed;
}

// A barrier that timed out, then Close() against members that only ever
// closed: the resumed barrier finds them closing, and no Close waits.
TEST_P(BarrierTest, CloseAfterATimedOutBarrierDoesNotWaitForMembersThatLeft) {
  StatelessProcessGroup group = MakeGroup();
  const int n = group.world_size(), me = group.rank();
  if (n < 2) GTEST_SKIP() << "needs a second rank";
  if (me == 0) {
    const absl::Status timed_out = group.barrier(absl::InfinitePast());
    ASSERT_TRUE(absl::IsDeadlineExceeded(timed_out)) << timed_out;
  }
  MPI_Barrier(MPI_COMM_WORLD);  // the others close only after that
  const absl::Status closed = group.Close(absl::Now() + absl::Seconds(60));
  ASSERT_TRUE(absl::IsFailedPrecondition(closed)) << closed;
  EXPECT_THAT(closed.message(), HasSubstr("mismatched collectives"));
}

// Every member closing, after barriers or not, frees the group.
TEST_P(BarrierTest, CloseMeetsCloseAfterAnyBarriers) {
  for (int barriers = 0; barriers < 3; ++barriers) {
    StatelessProcessGroup group = MakeGroup();
    for (int b = 0; b < barriers; ++b) ASSERT_OK(group.barrier());
    SCOPED_TRACE(absl::StrCat(barriers, " barriers"));
    ASSERT_OK(group.Close(absl::Now() + absl::Seconds(60)));
  }
}

TEST(ProcessGroupTest, OverlappingGroupsUsedInterleavedNeverMix) {
  StatelessProcessGroup world = MakeWorld(SmallWindow("world"));
  std::vector<int> evens;
  for (int r = 0; r < WorldSize(); r += 2) evens.push_back(r);
  const bool even = WorldRank() % 2 == 0;
  std::optional<StatelessProcessGroup> sub;
  if (even) {
    absl::StatusOr<StatelessProcessGroup> group =
        StatelessProcessGroup::CreateFromRanks(MPI_COMM_WORLD, evens, SmallWindow("evens"));
    ASSERT_OK(group.status());
    sub = *std::move(group);
    EXPECT_EQ(sub->rank(), WorldRank() / 2);
    EXPECT_EQ(sub->parent_ranks(), evens);
  }
  for (int round = 0; round < 20; ++round) {
    const int n = world.world_size(), me = world.rank();
    ASSERT_OK(world.send_obj(absl::StrCat("world ", round), (me + 1) % n));
    if (sub) {
      const int m = sub->world_size(), s = sub->rank();
      ASSERT_OK(sub->send_obj(absl::StrCat("evens ", round), (s + 1) % m));
      ASSERT_OK_AND_ASSIGN(std::string got, sub->recv_obj<std::string>((s - 1 + m) % m));
      EXPECT_EQ(got, absl::StrCat("evens ", round));
      ASSERT_OK_AND_ASSIGN(auto all, sub->all_gather_obj(s));
      EXPECT_EQ(all.size(), static_cast<size_t>(m));
    }
    ASSERT_OK_AND_ASSIGN(std::string got, world.recv_obj<std::string>((me - 1 + n) % n));
    EXPECT_EQ(got, absl::StrCat("world ", round));
  }
  // Nothing is left over in either group: a zero-wait receive finds nothing.
  EXPECT_TRUE(absl::IsDeadlineExceeded(
      world.recv_obj<std::string>((world.rank() + world.world_size() - 1) % world.world_size(),
                                  absl::InfinitePast())
          .status()));
  ASSERT_OK(world.barrier());
}

// Disjoint groups formed at the same time on one node may get the same MPI
// context id; Open MPI 4.1's osc/rdma then gave both one shared segment
// (dist/internal/window_allocation.h). Each group must see only its own.
// Across nodes (the _nodes targets) each group has members on every node:
// a per-node lock held while the window is allocated deadlocked there.
TEST(ProcessGroupTest, DisjointGroupsFormedAtOnceNeverShareAWindow) {
  if (WorldSize() < 4) GTEST_SKIP() << "needs two groups of two";
  const int parity = WorldRank() % 2;
  std::vector<int> members;
  for (int r = parity; r < WorldSize(); r += 2) members.push_back(r);
  for (int round = 0; round < 100; ++round) {
    MPI_Barrier(MPI_COMM_WORLD);  // both groups form at once
    ASSERT_OK_AND_ASSIGN(StatelessProcessGroup group,
                         StatelessProcessGroup::CreateFromRanks(
                             MPI_COMM_WORLD, members, SmallWindow(absl::StrCat("parity", parity))));
    ASSERT_OK_AND_ASSIGN(std::vector<int> gathered, group.all_gather_obj(WorldRank()));
    EXPECT_EQ(gathered, members) << "round " << round;
    const int n = group.world_size(), me = group.rank();
    ASSERT_OK(group.send_obj(WorldRank(), (me + 1) % n));
    ASSERT_OK_AND_ASSIGN(int got, group.recv_obj<int>((me + n - 1) % n));
    EXPECT_EQ(got, members[(me + n - 1) % n]) << "round " << round;
    ASSERT_OK(group.barrier());
    ASSERT_OK(group.Close());
  }
}

// Same members, two groups: what is sent in one is never readable in the
// other, whatever is tried.
TEST(ProcessGroupTest, AMessageInOneGroupIsNeverReadableInAnother) {
  StatelessProcessGroup first = MakeWorld(SmallWindow("first"));
  StatelessProcessGroup second = MakeWorld(SmallWindow("second"));
  const int n = first.world_size(), me = first.rank();
  ASSERT_OK(first.send_obj(std::string("secret"), (me + 1) % n));
  ASSERT_OK(first.broadcast_obj(std::string("announcement"), 0).status());
  ASSERT_OK(first.barrier());  // everything is published by now
  const int src = (me + n - 1) % n;
  EXPECT_TRUE(absl::IsDeadlineExceeded(
      second.recv_obj<std::string>(src, absl::InfinitePast()).status()));
  if (me != 0) {
    EXPECT_TRUE(absl::IsDeadlineExceeded(
        second.broadcast_obj(std::string(), 0, absl::InfinitePast()).status()));
  }
  ASSERT_OK_AND_ASSIGN(std::string secret, first.recv_obj<std::string>(src));
  EXPECT_EQ(secret, "secret");
  ASSERT_OK(second.barrier());
}

// Ranks {0, 1} form a group, then {0, 1, 2, 3}; the others never call.
TEST(ProcessGroupTest, SubsetGroupsNeedOnlyTheirMembers) {
  const int me = WorldRank();
  if (WorldSize() >= 2 && me < 2) {
    ASSERT_OK_AND_ASSIGN(StatelessProcessGroup pair,
                         StatelessProcessGroup::CreateFromRanks(MPI_COMM_WORLD, {0, 1},
                                                                SmallWindow()));
    ASSERT_OK(pair.send_obj(me, 1 - me));
    ASSERT_OK_AND_ASSIGN(int got, pair.recv_obj<int>(1 - me));
    EXPECT_EQ(got, 1 - me);
    EXPECT_EQ(pair.name(), "ranks[0,1]");
  }
  if (WorldSize() >= 4 && me < 4) {
    // Listed in reverse: group rank i is parent rank 3 - i.
    ASSERT_OK_AND_ASSIGN(StatelessProcessGroup four,
                         StatelessProcessGroup::CreateFromRanks(
                             MPI_COMM_WORLD, {3, 2, 1, 0}, SmallWindow()));
    EXPECT_EQ(four.rank(), 3 - me);
    ASSERT_OK_AND_ASSIGN(auto all, four.all_gather_obj(me));
    EXPECT_EQ(all, (std::vector<int>{3, 2, 1, 0}));
    ASSERT_OK(four.barrier());
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

// A listed rank that never calls: the others get DeadlineExceeded naming it
// instead of waiting for ever, and the world goes on.
TEST(ProcessGroupTest, CreateNamesTheRanksThatDidNotCall) {
  const int n = WorldSize(), me = WorldRank();
  if (n < 2) GTEST_SKIP() << "needs a rank that does not call";
  // Long enough that the ranks that call all make it under load.
  const absl::Time deadline = absl::Now() + absl::Seconds(2);
  if (me != n - 1) {
    absl::StatusOr<StatelessProcessGroup> group =
        StatelessProcessGroup::Create(MPI_COMM_WORLD, SmallWindow(), deadline);
    EXPECT_EQ(group.status().code(), absl::StatusCode::kDeadlineExceeded) << group.status();
    EXPECT_THAT(group.status().message(),
                HasSubstr(absl::StrCat("Create: rank ", n - 1, " of the parent did not call")));
  }
  MPI_Barrier(MPI_COMM_WORLD);
  // The first listed rank is the one missing: the others name it. They run
  // over a communicator of their own, freed after (their "here" messages
  // stay queued for the missing rank; see dist/internal/roll_call.h).
  MPI_Comm parent;
  MPI_Comm_dup(MPI_COMM_WORLD, &parent);
  std::vector<int> ranks(n);
  for (int r = 0; r < n; ++r) ranks[r] = r;
  if (me != 0) {
    absl::StatusOr<StatelessProcessGroup> group = StatelessProcessGroup::CreateFromRanks(
        parent, ranks, SmallWindow(), absl::Now() + absl::Seconds(1));
    EXPECT_EQ(group.status().code(), absl::StatusCode::kDeadlineExceeded) << group.status();
    EXPECT_THAT(group.status().message(),
                HasSubstr("CreateFromRanks: rank 0 of the parent (the first listed) did not "
                          "call before the deadline"));
  }
  MPI_Barrier(MPI_COMM_WORLD);
  MPI_Comm_free(&parent);
  // Everyone calls: the group forms.
  ASSERT_OK_AND_ASSIGN(StatelessProcessGroup group,
                       StatelessProcessGroup::CreateFromRanks(MPI_COMM_WORLD, ranks,
                                                              SmallWindow(),
                                                              absl::Now() + absl::Seconds(60)));
  ASSERT_OK(group.barrier());
}

TEST(ProcessGroupTest, SpaceIsReclaimedOnceEveryReaderHasRead) {
  StatelessProcessGroup group = MakeWorld();
  const std::string big(100000, 'x');  // not inline: takes data space
  ASSERT_OK(group.send_obj(big, (group.rank() + 1) % group.world_size()));
  ASSERT_OK_AND_ASSIGN(auto echoed, group.broadcast_obj(big, 0));
  EXPECT_EQ(echoed, big);
  if (group.world_size() > 1) {
    EXPECT_GE(group.stats().bytes_in_use, big.size());
  } else {  // a message to oneself never takes window space, but is an entry
    EXPECT_EQ(group.stats().objects_sent_to_self, 1u);
    EXPECT_EQ(group.entries().size(), 1u);
  }
  ASSERT_OK_AND_ASSIGN(
      std::string got,
      group.recv_obj<std::string>((group.rank() - 1 + group.world_size()) % group.world_size()));
  EXPECT_EQ(got, big);
  ASSERT_OK(group.barrier());  // every reader has read
  ASSERT_OK(group.progress());
  EXPECT_EQ(group.stats().bytes_in_use, 0u);
  EXPECT_TRUE(group.entries().empty());
  EXPECT_GE(group.stats().reclaimed_by_ack, 1u);
}

// Small messages: one inside its descriptor, two in the data area, all
// under the 64 KiB up to which acks are deferred.
std::string SmallMessage(int i) {
  constexpr size_t kSizes[] = {8, 1000, 30000};
  return std::string(kSizes[i], static_cast<char>('a' + i));
}

// Rank 0 sends `reader` the three small messages, then lets progress()
// reclaim them, for a minute at most.
void SendSmallMessagesUntilReclaimed(StatelessProcessGroup& group, int reader) {
  for (int i = 0; i < 3; ++i) ASSERT_OK(group.send_obj(SmallMessage(i), reader));
  const absl::Time limit = absl::Now() + absl::Seconds(60);
  while (!group.entries().empty() && absl::Now() < limit) ASSERT_OK(group.progress());
  EXPECT_TRUE(group.entries().empty()) << group.entries().front().first << " never acknowledged";
  EXPECT_EQ(group.stats().reclaimed_by_ack, 3u);
  EXPECT_EQ(group.stats().bytes_in_use, 0u);
}

void ReceiveSmallMessages(StatelessProcessGroup& group, int writer) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(std::string got, group.recv_obj<std::string>(writer));
    EXPECT_EQ(got, SmallMessage(i));
  }
}

// Acks of small messages are completed when their reader next waits, not
// at once (see WindowChannel::Acknowledge): rank 0 sees its small messages
// reclaimed while rank 1 only waits for the next one.
TEST(ProcessGroupTest, SmallMessagesAreReclaimedOnceTheirReaderWaits) {
  StatelessProcessGroup group = MakeWorld();
  if (group.world_size() < 2) GTEST_SKIP() << "needs a reader";
  if (group.rank() == 0) {
    SendSmallMessagesUntilReclaimed(group, 1);
    ASSERT_OK(group.send_obj(std::string("go"), 1));
  } else if (group.rank() == 1) {
    ReceiveSmallMessages(group, 0);
    ASSERT_OK_AND_ASSIGN(std::string go, group.recv_obj<std::string>(0));
    EXPECT_EQ(go, "go");
  }
  ASSERT_OK(group.barrier());
}

// ... also when the reader then waits on another source: rank 1 reads rank
// 0's small messages and waits for rank 2, which sends only once rank 0 has
// seen them reclaimed (or given up after a minute).
TEST(ProcessGroupTest, SmallMessagesAreReclaimedWhileTheirReaderWaitsOnAnotherRank) {
  StatelessProcessGroup group = MakeWorld();
  if (group.world_size() < 3) GTEST_SKIP() << "needs a writer, a reader and a third rank";
  if (group.rank() == 0) {
    SendSmallMessagesUntilReclaimed(group, 1);
    ASSERT_OK(group.send_obj(std::string("reclaimed"), 2));
  } else if (group.rank() == 1) {
    ReceiveSmallMessages(group, 0);
    ASSERT_OK_AND_ASSIGN(std::string go, group.recv_obj<std::string>(2));
    EXPECT_EQ(go, "go");
  } else if (group.rank() == 2) {
    ASSERT_OK_AND_ASSIGN(std::string reclaimed, group.recv_obj<std::string>(0));
    EXPECT_EQ(reclaimed, "reclaimed");
    ASSERT_OK(group.send_obj(std::string("go"), 1));
  }
  ASSERT_OK(group.barrier());
}

// ... and by a barrier: after it, every small message read before it is
// reclaimed.
TEST(ProcessGroupTest, SmallMessagesReadBeforeABarrierAreReclaimedAfterIt) {
  StatelessProcessGroup group = MakeWorld();
  const int n = group.world_size(), next = (group.rank() + 1) % n,
            previous = (group.rank() + n - 1) % n;
  for (int i = 0; i < 3; ++i) ASSERT_OK(group.send_obj(i, next));
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(int got, group.recv_obj<int>(previous));
    EXPECT_EQ(got, i);
  }
  ASSERT_OK(group.barrier());
  ASSERT_OK(group.progress());
  EXPECT_TRUE(group.entries().empty());
  EXPECT_EQ(group.stats().reclaimed_by_ack, 3u);
}

TEST(ProcessGroupTest, ExpireDataDropsOldMessagesAndLateReadersAreTold) {
  absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  GroupOptions options = SmallWindow();
  options.data_expiration_seconds = 10;
  options.clock = [&now] { return now; };
  StatelessProcessGroup group = MakeWorld(options);
  if (group.world_size() < 2) GTEST_SKIP() << "needs a reader";
  const int me = group.rank();
  if (me == 0) {
    ASSERT_OK(group.send_obj(std::string(5000, 'a'), 1));
    now += absl::Seconds(5);
    ASSERT_OK(group.send_obj(std::string("young"), 1));
    auto entries = group.entries();
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].first, "send_to/1/from/0/#0");
    EXPECT_EQ(entries[1].first, "send_to/1/from/0/#1");
    EXPECT_EQ(entries[1].second - entries[0].second, absl::Seconds(5));
    now += absl::Seconds(6);  // the first is 11 s old, the second 6 s
    ASSERT_OK(group.expire_data());
    entries = group.entries();
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].first, "send_to/1/from/0/#1");
    EXPECT_EQ(group.stats().reclaimed_by_expiration, 1u);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (me == 1) {
    absl::StatusOr<std::string> late = group.recv_obj<std::string>(0);
    EXPECT_TRUE(absl::IsNotFound(late.status())) << late.status();
    EXPECT_THAT(std::string(late.status().message()),
                HasSubstr("send_to/1/from/0/#0 from rank 0 expired"));
    ASSERT_OK_AND_ASSIGN(std::string young, group.recv_obj<std::string>(0));
    EXPECT_EQ(young, "young");
  }
  ASSERT_OK(group.barrier());
}

// all_gather waits for every part at once: its deadline names the first
// silent member's key and the other silent members; a late member still
// gathers every part.
TEST(ProcessGroupTest, AllGatherDeadlineNamesEverySilentMember) {
  StatelessProcessGroup group = MakeWorld(SmallWindow("gather"));
  if (group.world_size() < 4) GTEST_SKIP() << "needs two silent members and two callers";
  const int me = group.rank();
  ASSERT_OK(group.barrier());  // all start together: only ranks 0 and 1 are silent
  if (me >= 2) {
    absl::StatusOr<std::vector<int>> early =
        group.all_gather_obj(me, absl::Now() + absl::Milliseconds(200));
    EXPECT_TRUE(absl::IsDeadlineExceeded(early.status())) << early.status();
    EXPECT_THAT(std::string(early.status().message()),
                HasSubstr(absl::StrCat("group 'gather' rank ", me, "/")));
    EXPECT_THAT(std::string(early.status().message()),
                HasSubstr("all_gather_from/0/#0 from rank 0 (nothing published there yet; "
                          "nor by rank 1)"));
  }
  ASSERT_OK(group.barrier());
  if (me < 2) {
    ASSERT_OK_AND_ASSIGN(std::vector<int> late, group.all_gather_obj(me));
    for (int r = 0; r < group.world_size(); ++r) EXPECT_EQ(late[r], r);
  }
  ASSERT_OK(group.barrier());
}

TEST(ProcessGroupTest, DeadlineNamesPeerAndKeyAndTheGroupStaysUsable) {
  StatelessProcessGroup group = MakeWorld(SmallWindow("deadline"));
  if (group.world_size() < 2) GTEST_SKIP() << "needs a peer";
  if (group.rank() == 1) {
    absl::StatusOr<int> missing =
        group.recv_obj<int>(0, absl::Now() + absl::Milliseconds(200));
    EXPECT_TRUE(absl::IsDeadlineExceeded(missing.status())) << missing.status();
    EXPECT_THAT(std::string(missing.status().message()),
                HasSubstr("group 'deadline' rank 1/"));
    EXPECT_THAT(std::string(missing.status().message()),
                HasSubstr("send_to/1/from/0/#0 from rank 0"));
  }
  ASSERT_OK(group.barrier());
  if (group.rank() == 0) ASSERT_OK(group.send_obj(42, 1));
  if (group.rank() == 1) {
    ASSERT_OK_AND_ASSIGN(int got, group.recv_obj<int>(0));
    EXPECT_EQ(got, 42);
  }
  ASSERT_OK(group.barrier());
}

TEST(ProcessGroupTest, WrongTypeIsAnErrorAndTheMessageStaysQueued) {
  StatelessProcessGroup group = MakeWorld();
  const int me = group.rank(), n = group.world_size();
  ASSERT_OK(group.send_obj(std::string("text"), (me + 1) % n));
  const int src = (me - 1 + n) % n;
  absl::StatusOr<int> wrong = group.recv_obj<int>(src);
  EXPECT_TRUE(absl::IsInvalidArgument(wrong.status())) << wrong.status();
  EXPECT_THAT(std::string(wrong.status().message()),
              HasSubstr("payload holds 'string' but was received as 'i32'"));
  EXPECT_THAT(std::string(wrong.status().message()),
              HasSubstr(absl::StrCat("from/", src, "/#0 from rank ", src)));
  EXPECT_EQ(group.recv_src_counter()[src], 0u);
  ASSERT_OK_AND_ASSIGN(std::string right, group.recv_obj<std::string>(src));
  EXPECT_EQ(right, "text");
  EXPECT_EQ(group.recv_src_counter()[src], 1u);
}

TEST(ProcessGroupTest, LargeObjectsReadInPlaceKeepTheSameContract) {
  // Large one-chunk objects are decoded straight from the sender's window:
  // the wrong type still leaves the message queued, structured types and
  // broadcasts arrive whole.
  GroupOptions options = SmallWindow();
  options.window_bytes = 16 << 20;
  StatelessProcessGroup group = MakeWorld(options);
  const int me = group.rank(), n = group.world_size();
  const int dst = (me + 1) % n, src = (me - 1 + n) % n;
  const std::vector<uint8_t> bytes(1 << 20, static_cast<uint8_t>(me));
  std::vector<std::string> words;
  for (int i = 0; i < 50000; ++i) words.push_back(absl::StrCat(me, ":", i));
  ASSERT_OK(group.send_obj(bytes, dst));
  ASSERT_OK(group.send_obj(words, dst));
  absl::StatusOr<std::string> wrong = group.recv_obj<std::string>(src);
  EXPECT_TRUE(absl::IsInvalidArgument(wrong.status())) << wrong.status();
  EXPECT_THAT(std::string(wrong.status().message()),
              HasSubstr(absl::StrCat("from/", src, "/#0 from rank ", src)));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> got_bytes, group.recv_obj<std::vector<uint8_t>>(src));
  EXPECT_EQ(got_bytes, std::vector<uint8_t>(1 << 20, static_cast<uint8_t>(src)));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> got_words,
                       group.recv_obj<std::vector<std::string>>(src));
  ASSERT_EQ(got_words.size(), words.size());
  EXPECT_EQ(got_words.back(), absl::StrCat(src, ":", 49999));
  for (int root = 0; root < n; ++root) {
    ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> broadcast,
                         group.broadcast_obj(std::vector<uint8_t>(1 << 20, root + 1), root));
    EXPECT_EQ(broadcast, std::vector<uint8_t>(1 << 20, root + 1));
  }
  EXPECT_EQ(group.recv_src_counter()[src], 2u);
  // The words and every broadcast from another rank; the bytes were held
  // after the wrong-type receive and came from that copy. (Alone, the
  // words were sent to self: never in the window.)
  EXPECT_EQ(group.stats().objects_read_in_place, (n > 1 ? 1u : 0u) + (n - 1));
}

// A message of `size` bytes that says which it is.
std::string Numbered(int i, size_t size) {
  std::string message = absl::StrCat("#", i, ":");
  message.resize(std::max(size, message.size()), static_cast<char>('a' + i % 26));
  return message;
}

// Sizes around the inbox's slot (256 bytes, set below) and its largest
// record (8 slots, 2000 bytes of payload with the frame): records of one
// and two slots pushed while credit lasts, and some always pulled.
size_t SizeAroundTheSlot(int i) {
  constexpr size_t kSizes[] = {1, 100, 150, 300, 180, 2000, 60};
  return kSizes[i % 7];
}

// How many of `messages` a writer pushes to a reader that reads none of
// them: a record covers ceil((48 + framed bytes) / slot bytes) slots, at
// most half the inbox, and one that does not fit the slots left is pulled.
uint64_t PushedUntilTheInboxIsFull(const GroupOptions& options,
                                   const std::vector<std::string>& messages) {
  uint64_t free_slots = options.inbox_slots, pushed = 0;
  for (const std::string& message : messages) {
    const uint64_t record_bytes = 48 + dist::FramedSize(message);
    const uint64_t slots =
        (record_bytes + options.inbox_slot_bytes - 1) / options.inbox_slot_bytes;
    if (slots <= options.inbox_slots / 2 && slots <= free_slots) {
      free_slots -= slots;
      ++pushed;
    }
  }
  EXPECT_EQ(free_slots, 0u) << "the messages do not fill the inbox";
  return pushed;
}

// The writer sends far more than an inbox holds before its reader reads
// anything: the first go pushed until credit runs out, the rest pulled,
// large ones pulled throughout; the reader gets them all in order. After
// a barrier (which returns every credit) the next small one is pushed again.
TEST(ProcessGroupTest, CreditsRunOutAndComeBackWithBothPathsInOrder) {
  GroupOptions options = SmallWindow();
  options.inbox_slot_bytes = 256;
  StatelessProcessGroup group = MakeWorld(options);
  const int n = group.world_size(), me = group.rank();
  if (n < 2) GTEST_SKIP() << "needs a reader";
  constexpr int kMessages = 120;
  std::vector<std::string> sent, broadcast;
  for (int i = 0; i < kMessages; ++i) {
    sent.push_back(Numbered(i, SizeAroundTheSlot(i)));
    broadcast.push_back(Numbered(i, SizeAroundTheSlot(i + 3)));
  }
  // Each stream's inbox holds exactly its slots' worth before credit runs out.
  const uint64_t first_pushed = PushedUntilTheInboxIsFull(options, sent) +
                                PushedUntilTheInboxIsFull(options, broadcast);
  if (me == 0) {
    for (int i = 0; i < kMessages; ++i) {
      ASSERT_OK(group.send_obj(sent[i], 1));
      ASSERT_OK(group.broadcast_obj(broadcast[i], 0).status());
    }
    EXPECT_EQ(group.stats().objects_sent_pushed, first_pushed);
    EXPECT_GT(group.stats().objects_sent_pulled_for_credit, 0u);
  }
  ASSERT_OK(group.barrier());
  if (me == 1) {
    for (int i = 0; i < kMessages; ++i) {
      ASSERT_OK_AND_ASSIGN(std::string got, group.recv_obj<std::string>(0));
      ASSERT_EQ(got, Numbered(i, SizeAroundTheSlot(i))) << "message " << i;
    }
  }
  if (me != 0) {
    for (int i = 0; i < kMessages; ++i) {
      ASSERT_OK_AND_ASSIGN(std::string got, group.broadcast_obj(std::string(), 0));
      ASSERT_EQ(got, Numbered(i, SizeAroundTheSlot(i + 3))) << "broadcast " << i;
    }
  }
  ASSERT_OK(group.barrier());
  const uint64_t pushed = group.stats().objects_sent_pushed;
  if (me == 0) {
    ASSERT_OK(group.send_obj(std::string("again"), 1));
    EXPECT_EQ(group.stats().objects_sent_pushed, pushed + 1) << "credit did not come back";
    EXPECT_TRUE(group.entries().size() >= 1u);
  } else if (me == 1) {
    ASSERT_OK_AND_ASSIGN(std::string again, group.recv_obj<std::string>(0));
    EXPECT_EQ(again, "again");
    EXPECT_EQ(group.stats().objects_received_pushed, first_pushed + 1);
  }
  ASSERT_OK(group.barrier());
  // Everything read is reclaimed by the end of a barrier, whichever path.
  EXPECT_TRUE(group.entries().empty()) << group.entries().front().first;
  EXPECT_EQ(group.stats().bytes_in_use, 0u);
}

// A message to oneself never waits for a reader, whatever its size: 6 MiB
// through a 1 MiB window.
TEST(ProcessGroupTest, SendingToOneselfWorksAtAnySize) {
  StatelessProcessGroup group = MakeWorld();
  const std::string big(6 << 20, 's');
  ASSERT_OK(group.send_obj(big, group.rank()));
  ASSERT_OK(group.send_obj(std::string("small"), group.rank()));
  EXPECT_EQ(group.entries().size(), 2u);
  EXPECT_EQ(group.stats().objects_sent_to_self, 2u);
  ASSERT_OK_AND_ASSIGN(std::string got, group.recv_obj<std::string>(group.rank()));
  EXPECT_EQ(got, big);
  ASSERT_OK_AND_ASSIGN(got, group.recv_obj<std::string>(group.rank()));
  EXPECT_EQ(got, "small");
  EXPECT_TRUE(group.entries().empty());
  // Nothing can arrive while a member waits for itself: said at once.
  absl::Status nothing = group.recv_obj<std::string>(group.rank()).status();
  EXPECT_TRUE(absl::IsDeadlineExceeded(nothing)) << nothing;
  EXPECT_THAT(std::string(nothing.message()), HasSubstr("nothing sent to self"));
}

// Every member's all_gather part is larger than the window: each waits for
// room while reading the others' parts.
TEST(ProcessGroupTest, AllGatherOfPartsLargerThanTheWindow) {
  StatelessProcessGroup group = MakeWorld(testing::TestGroupOptions(4 << 20));
  const int me = group.rank();
  const std::vector<int32_t> part(6 << 18, me + 1);  // 6 MiB
  for (int round = 0; round < 2; ++round) {
    ASSERT_OK_AND_ASSIGN(std::vector<std::vector<int32_t>> parts, group.all_gather_obj(part));
    for (int r = 0; r < group.world_size(); ++r) {
      ASSERT_EQ(parts[r].size(), part.size()) << "rank " << r << ", round " << round;
      EXPECT_EQ(parts[r].front(), r + 1);
      EXPECT_EQ(parts[r].back(), r + 1);
    }
  }
  ASSERT_OK(group.barrier());
  EXPECT_TRUE(group.entries().empty());
}

// In a subgroup, errors name the parent rank beside the group rank.
TEST(ProcessGroupTest, SubgroupErrorsNameParentRanks) {
  const int n = WorldSize(), me = WorldRank();
  if (n < 2) GTEST_SKIP() << "needs two ranks";
  // Group rank 0 is the last world rank, group rank 1 world rank 0.
  const std::vector<int> ranks = {n - 1, 0};
  if (me == n - 1 || me == 0) {
    ASSERT_OK_AND_ASSIGN(StatelessProcessGroup pair,
                         StatelessProcessGroup::CreateFromRanks(MPI_COMM_WORLD, ranks,
                                                                SmallWindow("pair")));
    if (pair.rank() == 0) {
      absl::Status status =
          pair.recv_obj<int>(1, absl::Now() + absl::Milliseconds(100)).status();
      EXPECT_TRUE(absl::IsDeadlineExceeded(status)) << status;
      EXPECT_THAT(std::string(status.message()),
                  HasSubstr(absl::StrCat("rank 0/2 (parent rank ", n - 1, ")")));
      EXPECT_THAT(std::string(status.message()), HasSubstr("from rank 1 (parent rank 0)"));
    }
    ASSERT_OK(pair.barrier());
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

TEST(ProcessGroupTest, PeersOutOfRangeAreClearErrors) {
  StatelessProcessGroup group = MakeWorld();
  const int n = group.world_size();
  for (int bad : {-1, n, n + 5}) {
    absl::Status status = group.send_obj(1, bad);
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
    EXPECT_THAT(std::string(status.message()),
                HasSubstr(absl::StrCat("peer rank ", bad, " is out of range")));
    EXPECT_TRUE(absl::IsInvalidArgument(group.recv_obj<int>(bad).status()));
    EXPECT_TRUE(absl::IsInvalidArgument(group.broadcast_obj(1, bad).status()));
  }
}

TEST(ProcessGroupTest, MovedFromGroupRefusesCalls) {
  StatelessProcessGroup group = MakeWorld();
  StatelessProcessGroup moved = std::move(group);
  EXPECT_TRUE(absl::IsFailedPrecondition(group.send_obj(1, 0)));  // NOLINT
  EXPECT_TRUE(absl::IsFailedPrecondition(group.barrier()));       // NOLINT
  ASSERT_OK(moved.barrier());
  ASSERT_OK(moved.Close());
  EXPECT_TRUE(absl::IsFailedPrecondition(moved.recv_obj<int>(0).status()));
}

}  // namespace
}  // namespace fastvideo
