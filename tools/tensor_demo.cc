// The main job for now: every rank splits the same tensor along its last
// dimension with the tensor package, keeps its own shard, and rank 0 checks
// and prints what each rank got. Exits non-zero if any check failed.
#include <mpi.h>
#include <torch/torch.h>

#include <cstdio>
#include <vector>

#include "tensor/sequence_padding.h"
#include "tensor/split.h"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, world_size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);

  // A [4, 3 * world_size] tensor: each rank's shard is [4, 3].
  torch::Tensor full =
      torch::arange(4 * 3 * world_size, torch::kDouble).reshape({4, -1});
  auto shards = fastvideo::split_tensor_along_last_dim(full, world_size);
  torch::Tensor mine = shards[rank];
  double mine_sum = mine.sum().item<double>();

  // Sequence-parallel padding of a length-10 sequence across the ranks.
  auto [padded_len, pad] = fastvideo::compute_padding_for_sp(10, world_size);
  torch::Tensor sequence = torch::ones({1, 10});
  torch::Tensor padded = fastvideo::pad_sequence_tensor(sequence, padded_len);
  bool roundtrip_ok = torch::equal(
      fastvideo::unpad_sequence_tensor(padded, 10), sequence);

  std::vector<double> sums(world_size);
  std::vector<int> roundtrips(world_size);
  int ok = roundtrip_ok ? 1 : 0;
  MPI_Gather(&mine_sum, 1, MPI_DOUBLE, sums.data(), 1, MPI_DOUBLE, 0,
             MPI_COMM_WORLD);
  MPI_Gather(&ok, 1, MPI_INT, roundtrips.data(), 1, MPI_INT, 0,
             MPI_COMM_WORLD);

  int failures = 0;
  if (rank == 0) {
    std::printf("tensor demo: %d ranks, tensor [4, %d] split along dim -1, "
                "sequence 10 padded to %lld (+%lld)\n",
                world_size, 3 * world_size,
                static_cast<long long>(padded_len),
                static_cast<long long>(pad));
    std::printf("%-6s %-10s %-12s %-12s %-10s\n", "rank", "shard", "sum",
                "expected", "check");
    for (int r = 0; r < world_size; ++r) {
      double expected = shards[r].sum().item<double>();
      bool pass = sums[r] == expected && roundtrips[r] == 1;
      failures += pass ? 0 : 1;
      std::printf("%-6d %-10s %-12.1f %-12.1f %-10s\n", r, "[4, 3]", sums[r],
                  expected, pass ? "pass" : "FAIL");
    }
    std::printf("%s\n", failures == 0 ? "all checks passed"
                                      : "some checks FAILED");
  }
  MPI_Bcast(&failures, 1, MPI_INT, 0, MPI_COMM_WORLD);
  MPI_Finalize();
  return failures == 0 ? 0 : 1;
}
