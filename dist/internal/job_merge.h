// The MPI half of the cross-job rendezvous: whether this process's MPI
// runtime can connect to other jobs at all, and growing one communicator job
// by job with MPI_Comm_accept / MPI_Comm_connect + MPI_Intercomm_merge.
#ifndef FASTVIDEO_DIST_INTERNAL_JOB_MERGE_H_
#define FASTVIDEO_DIST_INTERNAL_JOB_MERGE_H_

#include <mpi.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fastvideo::dist {

// OK if Open MPI can connect this job to others and then open windows
// across them: it was started with an ompi-server (MCA pmix_server_uri),
// and the one-sided components admit osc/pt2pt (the one that works across
// jobs here; sm and rdma refuse such windows) and not osc/ucx (which was
// selected and then lost updates). Otherwise FailedPrecondition saying what
// to do.
absl::Status CanConnectJobs();

// Every member of `comm` returns the status `root` passes (collective).
absl::Status BcastStatus(MPI_Comm comm, int root, const absl::Status& status);

// Collective over `group`, rank 0 of which opened `port_name`: accepts one
// job and returns the merged communicator, `group`'s members first.
absl::StatusOr<MPI_Comm> AcceptJob(MPI_Comm group, const std::string& port_name);
// Collective over `job`: connects to `port_name` and returns the merged
// communicator, the accepting side's members first.
absl::StatusOr<MPI_Comm> ConnectJob(MPI_Comm job, const std::string& port_name);

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_JOB_MERGE_H_
