// A program outside the Bazel tree that uses the installed library: it is
// built by tools/install_test.sh with pkg-config and with CMake.
#include <cstdio>
#include <string>

#include "dist/mpi_runtime.h"
#include "dist/stateless_process_group.h"
#include "tensor/divisibility.h"

int main(int argc, char** argv) {
  fastvideo::MpiRuntime mpi(&argc, &argv);
  auto group = fastvideo::StatelessProcessGroup::Create(MPI_COMM_WORLD);
  if (!group.ok()) return std::fprintf(stderr, "%s\n", group.status().ToString().c_str()), 1;
  const int rank = group->rank(), n = group->world_size();
  auto sum = group->all_gather_obj(rank);
  if (!sum.ok()) return std::fprintf(stderr, "%s\n", sum.status().ToString().c_str()), 1;
  int total = 0;
  for (int value : *sum) total += value;
  std::printf("consumer rank %d of %d: sum of ranks %d, 12/%d=%lld\n", rank, n, total, n,
              static_cast<long long>(fastvideo::divide(12, n)));
  return total == n * (n - 1) / 2 ? 0 : 1;
}
