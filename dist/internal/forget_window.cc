#include "dist/internal/forget_window.h"

// Open MPI's list of windows (ompi/win/win.h), indexed by a window's
// Fortran handle, and the call that sets one of its items (opal/class/
// opal_pointer_array.h). Exported by libmpi and libopen-pal for their
// plugins; declared here so that no Open MPI source header is needed.
extern "C" {
struct opal_pointer_array_t;
extern opal_pointer_array_t ompi_mpi_windows;
int opal_pointer_array_set_item(opal_pointer_array_t* array, int index, void* value);
}

namespace fastvideo::dist {

void ForgetWindow(MPI_Win window) {
  if (window == MPI_WIN_NULL) return;
  opal_pointer_array_set_item(&ompi_mpi_windows, static_cast<int>(MPI_Win_c2f(window)), nullptr);
}

}  // namespace fastvideo::dist
