// The README's example: form a group, send, receive, broadcast, gather and
// synchronize, with error handling. Run: bazel run //tools:example
#include <cstdio>
#include <map>
#include <string>

#include "dist/mpi_runtime.h"
#include "dist/stateless_process_group.h"

int main(int argc, char** argv) {
  fastvideo::MpiRuntime mpi(&argc, &argv);
  auto group = fastvideo::StatelessProcessGroup::Create(MPI_COMM_WORLD);
  if (!group.ok()) return std::fprintf(stderr, "%s\n", group.status().ToString().c_str()), 1;
  const int rank = group->rank(), n = group->world_size();

  // Point to point: publish to the next rank, fetch from the previous one.
  absl::Status sent = group->send_obj(std::string("hello from ") + std::to_string(rank), (rank + 1) % n);
  auto hello = group->recv_obj<std::string>((rank + n - 1) % n, absl::Now() + absl::Seconds(30));
  // Rank 0 broadcasts a run configuration; everyone gathers a shard plan.
  auto config = group->broadcast_obj(std::map<std::string, double>{{"lr", 1e-4}, {"steps", 100}}, 0);
  auto plans = group->all_gather_obj(std::make_pair(rank, 64 / n));
  absl::Status synced = group->barrier();
  for (const absl::Status& status : {sent, hello.status(), config.status(), plans.status(), synced}) {
    if (!status.ok()) return std::fprintf(stderr, "rank %d: %s\n", rank, status.ToString().c_str()), 1;
  }
  std::printf("rank %d got '%s', lr %g, %zu plans\n", rank, hello->c_str(), config->at("lr"), plans->size());
  return 0;
}
