// How the ranks of a communicator sit on this node: whether they outnumber
// the cores they may run on, which decides how waiting ranks poll (see
// backoff.h): spinning pays on a node with a core per rank, and only delays
// the rank being waited for on an oversubscribed one; and whether they are
// all here, which (with the MCA settings) decides how a barrier meets.
#ifndef FASTVIDEO_DIST_INTERNAL_NODE_LOAD_H_
#define FASTVIDEO_DIST_INTERNAL_NODE_LOAD_H_

#include <mpi.h>

#include "absl/status/statusor.h"

namespace fastvideo::dist {

struct NodeLoad {
  bool oversubscribed = false;  // more of the ranks here than cores
  bool all_ranks_here = false;  // every rank of the communicator is on this node
};

// Collective over `comm`. The cores are the union of the node's ranks'
// affinity masks: mpirun binds each rank to a core of its own when there
// are enough, so one rank's mask alone would make every bound job look
// oversubscribed.
absl::StatusOr<NodeLoad> MeasureNodeLoad(MPI_Comm comm);

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_NODE_LOAD_H_
