#include "dist/internal/node_load.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>

#include "dist/internal/mpi_error.h"

namespace fastvideo::dist {

absl::StatusOr<NodeLoad> MeasureNodeLoad(MPI_Comm comm) {
  MPI_Comm node;
  FV_RETURN_IF_MPI_ERROR(
      MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  int ranks_on_node = 1;
  MPI_Comm_size(node, &ranks_on_node);
  cpu_set_t mine, node_cpus;
  CPU_ZERO(&mine);
  if (sched_getaffinity(0, sizeof(mine), &mine) != 0) {
    const long online = std::min<long>(sysconf(_SC_NPROCESSORS_ONLN), CPU_SETSIZE);
    for (long cpu = 0; cpu < online; ++cpu) CPU_SET(cpu, &mine);
  }
  const int reduced =
      MPI_Allreduce(&mine, &node_cpus, sizeof(cpu_set_t), MPI_BYTE, MPI_BOR, node);
  MPI_Comm_free(&node);
  FV_RETURN_IF_MPI_ERROR(reduced);
  int ranks = 1;
  MPI_Comm_size(comm, &ranks);
  return NodeLoad{ranks_on_node > CPU_COUNT(&node_cpus), ranks_on_node == ranks};
}

}  // namespace fastvideo::dist
