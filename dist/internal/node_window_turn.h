// NodeWindowTurn: the groups being formed on one node allocate their
// windows one at a time.
//
// Why: Open MPI 4.1's osc/rdma (the default one-sided component on one
// node) names a window's shared-memory segment after the job and the
// communicator's context id only (osc_rdma.<node>.<jobid>.<cid>). Two
// disjoint groups formed at the same time may get the same context id,
// and then both map one segment and each sees the other's writes (seen
// here: 4 ranks, groups {0,2} and {1,3} formed at once, rank 2 read rank
// 1's all_gather part). The segment is unlinked before MPI_Win_allocate
// returns on the node's first member, so taking turns per node suffices;
// osc/sm and osc/pt2pt do not need it and pay one node-local broadcast;
// a group spanning separately launched jobs (other job ids) skips it.
//
// Collective over `comm`: Take returns once this group's members on this
// node (by host name) hold the node's turn (an exclusive flock held by the
// group's first member on the node); the turn ends when the returned object is
// destroyed. Fails with DeadlineExceeded if the turn does not come before
// `deadline` (another group's allocation hangs), naming the lock file.
#ifndef FASTVIDEO_DIST_INTERNAL_NODE_WINDOW_TURN_H_
#define FASTVIDEO_DIST_INTERNAL_NODE_WINDOW_TURN_H_

#include <mpi.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace fastvideo::dist {

class NodeWindowTurn {
 public:
  static absl::StatusOr<std::unique_ptr<NodeWindowTurn>> Take(MPI_Comm comm,
                                                               absl::Time deadline);
  NodeWindowTurn(const NodeWindowTurn&) = delete;
  NodeWindowTurn& operator=(const NodeWindowTurn&) = delete;
  ~NodeWindowTurn();  // releases the lock (on the member that holds it)

  // The lock file: one per user and node.
  static std::string LockPath();

 private:
  explicit NodeWindowTurn(int lock_fd) : lock_fd_(lock_fd) {}
  int lock_fd_;  // -1 on members that do not hold it
};

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_NODE_WINDOW_TURN_H_
