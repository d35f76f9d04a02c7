// What the channel decides per node when a window opens, checked against
// what is true: under mpirun on one node, and across simulated nodes (the
// _nodes targets), with host names as the truth about who shares a node.
// MeasureNodeLoad: whether every rank is here, and whether this node's
// ranks outnumber the cores they may run on (mpirun binds each rank to a
// core of its own when there are enough, so one rank's mask alone would
// make every bound job look oversubscribed). AllocateWindow: shared memory
// only where every member is here. OpsLandOnReturn: true over shared
// memory, false over osc/pt2pt (TCP, or across nodes). kAuto's barrier.
#include "dist/internal/node_load.h"

#include <gtest/gtest.h>
#include <mpi.h>
#include <sched.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "dist/internal/barrier.h"
#include "dist/internal/mca_setting.h"
#include "dist/internal/op_landing.h"
#include "dist/internal/window_allocation.h"

namespace {

// Every rank's host name, by rank.
std::vector<std::string> HostNames() {
  char mine[MPI_MAX_PROCESSOR_NAME] = {};
  int length = 0;
  MPI_Get_processor_name(mine, &length);
  int ranks = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  std::vector<char> all(size_t(ranks) * MPI_MAX_PROCESSOR_NAME);
  MPI_Allgather(mine, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all.data(), MPI_MAX_PROCESSOR_NAME,
                MPI_CHAR, MPI_COMM_WORLD);
  std::vector<std::string> names;
  for (int r = 0; r < ranks; ++r) names.emplace_back(&all[size_t(r) * MPI_MAX_PROCESSOR_NAME]);
  return names;
}

// Whether all of the world's ranks share this rank's host.
bool AllRanksOnThisHost() {
  const std::vector<std::string> names = HostNames();
  for (const std::string& name : names) {
    if (name != names[0]) return false;
  }
  return true;
}

TEST(NodeLoadTest, ComparesTheNodesRanksWithTheCoresTheyShare) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const std::vector<std::string> names = HostNames();
  int ranks_here = 0;
  for (const std::string& name : names) ranks_here += name == names[rank];
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t mine;
  ASSERT_EQ(sched_getaffinity(0, sizeof(mine), &mine), 0);
  absl::StatusOr<fastvideo::dist::NodeLoad> load =
      fastvideo::dist::MeasureNodeLoad(MPI_COMM_WORLD);
  ASSERT_TRUE(load.ok()) << load.status();
  EXPECT_EQ(load->all_ranks_here, AllRanksOnThisHost());
  EXPECT_EQ(load->oversubscribed, ranks_here > cores)
      << ranks_here << " ranks on this node, " << cores << " cores online, this rank may use "
      << CPU_COUNT(&mine);
}

TEST(WindowDecisionsTest, SharedMemoryOnlyWhereEveryMemberIsHere) {
  const bool all_here = AllRanksOnThisHost();
  absl::StatusOr<fastvideo::dist::AllocatedWindow> allocated =
      fastvideo::dist::AllocateWindow(MPI_COMM_WORLD, 4096, all_here);
  ASSERT_TRUE(allocated.ok()) << allocated.status();
  const fastvideo::dist::McaSettings& mca = fastvideo::dist::ProcessMcaSettings();
  const bool shared_memory = allocated->shared_memory;
  // Within one node osc/sm serves every window unless the MCA settings
  // leave only osc/pt2pt (mpilaunch.sh --transport tcp).
  EXPECT_EQ(shared_memory, all_here && fastvideo::dist::McaListAdmits(mca.osc.value_or(""), "sm"))
      << "osc=" << mca.osc.value_or("(unset)");
  MPI_Win window = allocated->window;
  unsigned char* base = allocated->base;
  ASSERT_EQ(MPI_Win_lock_all(MPI_MODE_NOCHECK, window), MPI_SUCCESS);
  std::memset(base, 0, 4096);
  MPI_Win_sync(window);
  MPI_Barrier(MPI_COMM_WORLD);
  absl::StatusOr<bool> lands =
      fastvideo::dist::OpsLandOnReturn(window, MPI_COMM_WORLD, base, {64, 128}, shared_memory);
  ASSERT_TRUE(lands.ok()) << lands.status();
  EXPECT_EQ(*lands, shared_memory);
  // Not asked where it cannot hold: no communication, false.
  absl::StatusOr<bool> not_asked =
      fastvideo::dist::OpsLandOnReturn(window, MPI_COMM_WORLD, base, {64, 128}, false);
  ASSERT_TRUE(not_asked.ok());
  EXPECT_FALSE(*not_asked);
  MPI_Win_unlock_all(window);
  MPI_Win_free(&window);
  // Members on several nodes meet through member 0 from 3 on: every store
  // is a TCP message there.
  int ranks = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  if (!all_here && ranks >= 3) {
    EXPECT_EQ(fastvideo::dist::ResolveBarrierAlgorithm(fastvideo::BarrierAlgorithm::kAuto, ranks,
                                                       shared_memory),
              fastvideo::BarrierAlgorithm::kStar);
  }
}

}  // namespace
