// Whether one-sided operations on a window have done their work at the
// target by the time they return, on every member. Open MPI's single-copy
// shared memory (osc/rdma over btl/vader, osc/sm) copies a put's bytes and
// applies an accumulate inside the call; osc/pt2pt (TCP) sends buffered
// operations only at a flush; an RDMA NIC reads a put's source after the
// call returns. Where it holds, the channel needs no flush after a push or
// a barrier signal, and a flush costs a context switch per message on an
// oversubscribed node (Open MPI's progress engine yields the core there).
#ifndef FASTVIDEO_DIST_INTERNAL_OP_LANDING_H_
#define FASTVIDEO_DIST_INTERNAL_OP_LANDING_H_

#include <mpi.h>

#include <cstdint>

#include "absl/status/statusor.h"

namespace fastvideo::dist {

// Where the probe writes in every member's segment (zeroed before).
struct ProbeWords {
  uint64_t put;         // by MPI_Put
  uint64_t accumulate;  // by MPI_Accumulate(MPI_REPLACE)
};

// Collective over the window's members, right after it is opened (under
// MPI_Win_lock_all). Asked only where it can hold: every member on this
// node and the MCA settings admitting shared-memory windows and not
// osc/ucx (`shared_memory`); otherwise false without communicating. Each
// member puts a word and accumulates another into its right neighbour,
// overwriting the sources at once, meets the others (MPI_Barrier, which
// flushes nothing) and looks for its left neighbour's two words: all must
// have found both, intact.
absl::StatusOr<bool> OpsLandOnReturn(MPI_Win window, MPI_Comm comm, unsigned char* base,
                                     ProbeWords probe, bool shared_memory);

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_OP_LANDING_H_
