// MeasureNodeLoad under mpirun (one node): a job with no more ranks than
// the node's cores is not oversubscribed, even though mpirun then binds
// each rank to a single core of its own; one with more ranks is.
#include "dist/internal/node_load.h"

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

}  // namespace
