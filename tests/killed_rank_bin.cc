// A job whose last rank is killed (SIGKILL) in the middle of an exchange:
// across simulated nodes, a rank on another node than mpirun's. Run by
// killed_rank_test.sh, which expects the job to end quickly, with a non-zero
// exit and a message naming that rank, and no process left behind.
#include <csignal>
#include <cstdio>

#include "dist/mpi_runtime.h"
#include "dist/stateless_process_group.h"

int main(int argc, char** argv) {
  fastvideo::MpiRuntime mpi(&argc, &argv);
  fastvideo::GroupOptions options;
  options.window_bytes = 1 << 20;
  auto group = fastvideo::StatelessProcessGroup::Create(MPI_COMM_WORLD, options);
  if (!group.ok() || group->world_size() < 2) return 2;
  const int rank = group->rank(), victim = group->world_size() - 1;
  if (rank == victim) {
    for (int i = 0; i < 10; ++i) (void)group->send_obj(i, 0);
    std::raise(SIGKILL);  // mid-exchange: rank 0 expects 20 messages
  }
  if (rank == 0) {
    for (int i = 0; i < 20; ++i) {
      auto got = group->recv_obj<int>(victim, absl::Now() + absl::Seconds(120));
      if (!got.ok()) {
        std::fprintf(stderr, "rank 0: %s\n", got.status().ToString().c_str());
        return 1;
      }
    }
  }
  (void)group->barrier(absl::Now() + absl::Seconds(120));
  return 0;
}
