// A program that calls MPI_Init itself, with the osc setting of Debian's
// /etc/openmpi/openmpi-mca-params.conf (which excludes osc/pt2pt), forms a
// group of every rank. Across nodes only osc/pt2pt opens its window, so
// Create must fail with FailedPrecondition naming the setting to change;
// on one node it must work. Exits 0 when it went as --expect says.
//   usage: own_mpi_init_bin ok|failed_precondition
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "dist/stateless_process_group.h"

int main(int argc, char** argv) {
  if (argc != 2) return std::fprintf(stderr, "usage: %s ok|failed_precondition\n", argv[0]), 2;
  const std::string expect = argv[1];
  setenv("OMPI_MCA_osc", "^ucx,pt2pt", /*overwrite=*/1);  // after mpirun's own
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  absl::StatusOr<fastvideo::StatelessProcessGroup> group =
      fastvideo::StatelessProcessGroup::Create(MPI_COMM_WORLD);
  bool as_expected = false;
  if (expect == "ok") {
    as_expected = group.ok() && group->barrier().ok() && group->Close().ok();
  } else {
    const std::string message(group.status().message());
    as_expected = absl::IsFailedPrecondition(group.status()) &&
                  message.find("osc='^ucx,pt2pt'") != std::string::npos &&
                  message.find("OMPI_MCA_osc=sm,rdma,pt2pt") != std::string::npos;
  }
  std::printf("rank %d: %s (expected %s): %s\n", rank, as_expected ? "as expected" : "UNEXPECTED",
              expect.c_str(), group.ok() ? "created" : group.status().ToString().c_str());
  MPI_Finalize();
  return as_expected ? 0 : 1;
}
