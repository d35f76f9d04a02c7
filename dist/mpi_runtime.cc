#include "dist/mpi_runtime.h"

#include <cstdlib>

namespace fastvideo {

MpiRuntime::MpiRuntime(int* argc, char*** argv, int required) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) {
    MPI_Query_thread(&provided_);
    return;
  }
  // Open MPI reads its component lists once, here. Debian's default
  // (osc = ^ucx,pt2pt) leaves no one-sided component that opens windows
  // across jobs (StatelessProcessGroup::Create with host and port); unless
  // the user chose, admit osc/pt2pt too. Selection goes by priority, so
  // windows within one job keep osc/sm or osc/rdma. osc/ucx stays out: on
  // a group spanning two jobs here it lost updates (all_gather parts,
  // barrier words) where pt2pt delivered them.
  setenv("OMPI_MCA_osc", "sm,rdma,pt2pt", /*overwrite=*/0);
  MPI_Init_thread(argc, argv, required, &provided_);
  owns_ = true;
}

MpiRuntime::~MpiRuntime() {
  if (!owns_) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

}  // namespace fastvideo
