#include "dist/internal/mpi_error.h"

#include <mpi.h>

#include "absl/strings/str_cat.h"

namespace fastvideo::dist {

absl::Status MpiStatus(int code, absl::string_view call) {
  if (code == MPI_SUCCESS) return absl::OkStatus();
  char text[MPI_MAX_ERROR_STRING] = {0};
  int length = 0;
  MPI_Error_string(code, text, &length);
  int error_class = code;
  MPI_Error_class(code, &error_class);
  std::string message =
      absl::StrCat(call, " failed: ", absl::string_view(text, length),
                   " (MPI error class ", error_class, ")");
  switch (error_class) {
    case MPI_ERR_RMA_SYNC:
    case MPI_ERR_RMA_CONFLICT:
    case MPI_ERR_WIN:
    case MPI_ERR_COMM:
    case MPI_ERR_OTHER:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace fastvideo::dist
