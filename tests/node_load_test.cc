// What the channel learns about the node and the transport when it opens,
// under mpirun (one node). MeasureNodeLoad: a job with no more ranks than
// the node's cores is not oversubscribed, even though mpirun then binds
// each rank to a single core of its own; one with more ranks is.
// OpsLandOnReturn: true over shared memory, false with --mca btl tcp,self
// (osc/pt2pt sends only at a flush).
#include "dist/internal/node_load.h"

#include <cstring>

#include "dist/internal/mca_setting.h"
#include "dist/internal/op_landing.h"

#include <gtest/gtest.h>
#include <mpi.h>
#include <sched.h>
#include <unistd.h>

namespace {

TEST(NodeLoadTest, ComparesTheNodesRanksWithTheCoresTheyShare) {
  int ranks = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t mine;
  ASSERT_EQ(sched_getaffinity(0, sizeof(mine), &mine), 0);
  absl::StatusOr<fastvideo::dist::NodeLoad> load =
      fastvideo::dist::MeasureNodeLoad(MPI_COMM_WORLD);
  ASSERT_TRUE(load.ok()) << load.status();
  EXPECT_TRUE(load->all_ranks_here);
  EXPECT_EQ(load->oversubscribed, ranks > cores)
      << ranks << " ranks, " << cores << " cores online, this rank may use "
      << CPU_COUNT(&mine);
}

TEST(OpLandingTest, TrueOverSharedMemoryFalseOverTcp) {
  const fastvideo::dist::McaSettings& mca = fastvideo::dist::ProcessMcaSettings();
  const bool shared_memory = fastvideo::dist::McaAdmitsSharedMemoryWindows(
      mca.btl.value_or(""), mca.osc.value_or(""));
  EXPECT_EQ(shared_memory, fastvideo::dist::McaListAdmits(mca.btl.value_or(""), "vader"))
      << "btl=" << mca.btl.value_or("(unset)");
  unsigned char* base = nullptr;
  MPI_Win window;
  ASSERT_EQ(MPI_Win_allocate(4096, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &base, &window),
            MPI_SUCCESS);
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
}

}  // namespace
