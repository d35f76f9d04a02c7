// MPI for a Python process: initialized on first use if nobody (mpi4py,
// say) has, at MPI_THREAD_SERIALIZED, and finalized at interpreter exit
// only if we initialized it. Every MPI call of the module holds
// CallLock(), so calls from several Python threads take turns.
#ifndef FASTVIDEO_DIST_TOOLS_PYTHON_MPI_SESSION_H_
#define FASTVIDEO_DIST_TOOLS_PYTHON_MPI_SESSION_H_

#include <mpi.h>
#include <pybind11/pybind11.h>

#include <functional>
#include <mutex>

namespace fastvideo::python {

// Initializes MPI unless it is (MpiRuntime: sets OMPI_MCA_osc first).
void EnsureMpi();
// The MPI thread level in force (after EnsureMpi).
int MpiThreadLevel();
// Serializes the module's MPI calls across Python threads.
std::mutex& CallLock();
// `comm`: None (MPI_COMM_WORLD) or an mpi4py.MPI.Comm (by its Fortran
// handle, so mpi4py's headers are not needed). Throws TypeError otherwise.
MPI_Comm CommFromPython(pybind11::handle comm);
// Runs `close_groups`, then finalizes MPI if EnsureMpi initialized it.
// Registered with atexit by the package.
void Shutdown(const std::function<void()>& close_groups);

}  // namespace fastvideo::python

#endif  // FASTVIDEO_DIST_TOOLS_PYTHON_MPI_SESSION_H_
