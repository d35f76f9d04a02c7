// MPI return codes as absl::Status. The group's communicator and window use
// MPI_ERRORS_RETURN, so MPI failures reach the caller instead of aborting.
#ifndef FASTVIDEO_DIST_INTERNAL_MPI_ERROR_H_
#define FASTVIDEO_DIST_INTERNAL_MPI_ERROR_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace fastvideo::dist {

// OkStatus for MPI_SUCCESS; otherwise an error whose message names `call`
// and carries MPI's own error string. The classes a peer that is gone (or
// a window or communicator broken by it) produces in Open MPI 4.1 map to
// Unavailable: MPI_ERR_RMA_SYNC, MPI_ERR_RMA_CONFLICT, MPI_ERR_WIN,
// MPI_ERR_COMM, MPI_ERR_OTHER; everything else to Internal.
absl::Status MpiStatus(int code, absl::string_view call);

}  // namespace fastvideo::dist

// Returns from the enclosing function when an MPI call fails.
#define FV_RETURN_IF_MPI_ERROR(call) \
  do {                               \
    const int fv_mpi_code_ = (call); \
    if (fv_mpi_code_ != 0) return ::fastvideo::dist::MpiStatus(fv_mpi_code_, #call); \
  } while (false)

#endif  // FASTVIDEO_DIST_INTERNAL_MPI_ERROR_H_
