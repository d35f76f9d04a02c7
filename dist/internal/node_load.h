// Whether the ranks of a communicator that share this node outnumber the
// cores they may run on, which decides how waiting ranks poll (see
// backoff.h): spinning pays on a node with a core per rank, and only delays
// the rank being waited for on an oversubscribed one.
#ifndef FASTVIDEO_DIST_INTERNAL_NODE_LOAD_H_
#define FASTVIDEO_DIST_INTERNAL_NODE_LOAD_H_

#include <mpi.h>

#include "absl/status/statusor.h"

namespace fastvideo::dist {

// Collective over `comm`. The cores are the union of the node's ranks'
// affinity masks: mpirun binds each rank to a core of its own when there
// are enough, so one rank's mask alone would make every bound job look
// oversubscribed.
absl::StatusOr<bool> NodeIsOversubscribed(MPI_Comm comm);

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_NODE_LOAD_H_
