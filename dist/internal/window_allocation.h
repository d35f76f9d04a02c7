// How a group's window is allocated, so that groups formed at the same time
// never share memory and no lock is held across a collective call.
//
// Members all on this node (and osc/sm admitted): MPI_Win_allocate_shared,
// which osc/rdma declines, so osc/sm serves it. Not MPI_Win_allocate there:
// Open MPI 4.x's osc/rdma (priority 101, above osc/sm's 100) names a node's
// segment osc_rdma.<host>.<jobid>.<context id>, and context ids are unique
// per process only, so two disjoint groups of one job formed at once can map
// one segment and read each other's words (fixed in Open MPI 5.0 by adding
// the node leader's pid). osc/sm names its segment after the process of
// group rank 0 as well (jobid and vpid): no two live windows share it.
//
// Members on several nodes (or from several jobs): MPI_Win_allocate. Across
// hosts without RDMA hardware only osc/pt2pt opens it (osc/rdma needs a BTL
// with RDMA; btl/tcp has none), and osc/pt2pt has no shared segment. On an
// RDMA network with Open MPI 4.x, osc/rdma can carry such a window and the
// segment naming above applies to its members on each node.
#ifndef FASTVIDEO_DIST_INTERNAL_WINDOW_ALLOCATION_H_
#define FASTVIDEO_DIST_INTERNAL_WINDOW_ALLOCATION_H_

#include <mpi.h>

#include <string>

#include "absl/status/statusor.h"

namespace fastvideo::dist {

struct AllocatedWindow {
  MPI_Win window = MPI_WIN_NULL;
  unsigned char* base = nullptr;  // this member's segment
  bool shared_memory = false;     // one-sided operations are loads and stores
};

// Collective over `comm`; `all_members_here` must be the same on every
// member (MeasureNodeLoad's all_ranks_here). Errors: FailedPrecondition
// naming the MCA setting to change when no component may open a window
// for members on several nodes; otherwise MPI's error.
absl::StatusOr<AllocatedWindow> AllocateWindow(MPI_Comm comm, MPI_Aint bytes,
                                               bool all_members_here);

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_WINDOW_ALLOCATION_H_
