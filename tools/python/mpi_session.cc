#include "tools/python/mpi_session.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "dist/mpi_runtime.h"

namespace fastvideo::python {
namespace py = pybind11;

namespace {
std::unique_ptr<MpiRuntime>& Runtime() {
  static auto* runtime = new std::unique_ptr<MpiRuntime>();
  return *runtime;
}
}  // namespace

void EnsureMpi() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) return;
  // Groups are used from one thread at a time (CallLock), and osc/pt2pt,
  // the TCP transport, refuses MPI_THREAD_MULTIPLE.
  Runtime() = std::make_unique<MpiRuntime>(nullptr, nullptr, MPI_THREAD_SERIALIZED);
}

int MpiThreadLevel() {
  int level = MPI_THREAD_SINGLE;
  MPI_Query_thread(&level);
  return level;
}

std::mutex& CallLock() {
  static auto* lock = new std::mutex();
  return *lock;
}

MPI_Comm CommFromPython(py::handle comm) {
  if (comm.is_none()) return MPI_COMM_WORLD;
  if (!py::hasattr(comm, "py2f")) {
    throw py::type_error(absl::StrCat("comm must be None or an mpi4py.MPI.Comm, not '",
                                      std::string(py::str(comm.get_type().attr("__name__"))),
                                      "'"));
  }
  const MPI_Fint handle = comm.attr("py2f")().cast<MPI_Fint>();
  MPI_Comm result = MPI_Comm_f2c(handle);
  if (result == MPI_COMM_NULL) throw py::value_error("comm is MPI.COMM_NULL");
  return result;
}

void Shutdown(const std::function<void()>& close_groups) {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) close_groups();
  Runtime().reset();  // MPI_Finalize, if EnsureMpi initialized MPI
}

}  // namespace fastvideo::python
