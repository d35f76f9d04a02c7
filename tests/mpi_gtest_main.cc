// GoogleTest main for multi-rank tests: initializes MPI, runs the tests on
// every rank, and makes every rank exit with the worst result of all ranks,
// so that mpirun fails if any rank failed.
#include <gtest/gtest.h>
#include <mpi.h>

int main(int argc, char** argv) {
  int provided = 0;
  // FUNNELED: osc/pt2pt (our tcp transport) refuses MPI_THREAD_MULTIPLE.
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  ::testing::InitGoogleTest(&argc, argv);
  int result = RUN_ALL_TESTS();
  int worst = 0;
  MPI_Allreduce(&result, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return worst;
}
