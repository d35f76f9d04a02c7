// MpiRuntime: MPI_Init_thread / MPI_Finalize for programs that want them
// tied to a scope. The library itself never initializes or finalizes MPI.
//
//   int main(int argc, char** argv) {
//     fastvideo::MpiRuntime mpi(&argc, &argv);
//     ...
//   }  // MPI_Finalize, if this object initialized MPI
//
// If MPI is already initialized, it does nothing now and nothing at the end.
// Before MPI_Init it sets OMPI_MCA_osc (unless set) so that windows can span
// separately launched jobs (see StatelessProcessGroup::Create(host, port...)).
// The default thread level is MPI_THREAD_FUNNELED: osc/pt2pt (the TCP
// transport) refuses MPI_THREAD_MULTIPLE, and a group is used from one
// thread at a time anyway.
#ifndef FASTVIDEO_DIST_MPI_RUNTIME_H_
#define FASTVIDEO_DIST_MPI_RUNTIME_H_

#include <mpi.h>

namespace fastvideo {

class MpiRuntime {
 public:
  MpiRuntime(int* argc, char*** argv, int required = MPI_THREAD_FUNNELED);
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;
  ~MpiRuntime();

  // The thread level MPI provides.
  int provided() const { return provided_; }
  // Whether this object initialized MPI (and so finalizes it).
  bool owns() const { return owns_; }

 private:
  int provided_ = MPI_THREAD_SINGLE;
  bool owns_ = false;
};

}  // namespace fastvideo

#endif  // FASTVIDEO_DIST_MPI_RUNTIME_H_
