#include "dist/internal/op_landing.h"

#include "dist/internal/mpi_error.h"

namespace fastvideo::dist {

namespace {

constexpr uint64_t kProbeMark = 0x9e3779b97f4a7c15ULL;

bool Holds(const unsigned char* base, uint64_t offset, uint64_t expected) {
  return __atomic_load_n(reinterpret_cast<const uint64_t*>(base + offset), __ATOMIC_ACQUIRE) ==
         expected;
}

}  // namespace

absl::StatusOr<bool> OpsLandOnReturn(MPI_Win window, MPI_Comm comm, unsigned char* base,
                                     ProbeWords probe, bool shared_memory) {
  if (!shared_memory) return false;
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const int right = (rank + 1) % size, left = (rank - 1 + size) % size;
  uint64_t put_source = kProbeMark ^ static_cast<uint64_t>(rank);
  uint64_t accumulate_source = ~put_source;
  FV_RETURN_IF_MPI_ERROR(MPI_Put(&put_source, 1, MPI_UINT64_T, right,
                                 static_cast<MPI_Aint>(probe.put), 1, MPI_UINT64_T, window));
  FV_RETURN_IF_MPI_ERROR(MPI_Accumulate(&accumulate_source, 1, MPI_UINT64_T, right,
                                        static_cast<MPI_Aint>(probe.accumulate), 1,
                                        MPI_UINT64_T, MPI_REPLACE, window));
  // A transport that reads its source after returning would now send zeros.
  put_source = 0;
  accumulate_source = 0;
  FV_RETURN_IF_MPI_ERROR(MPI_Barrier(comm));
  FV_RETURN_IF_MPI_ERROR(MPI_Win_sync(window));
  const uint64_t expected = kProbeMark ^ static_cast<uint64_t>(left);
  int landed = Holds(base, probe.put, expected) && Holds(base, probe.accumulate, ~expected);
  int everywhere = 0;
  FV_RETURN_IF_MPI_ERROR(MPI_Allreduce(&landed, &everywhere, 1, MPI_INT, MPI_LAND, comm));
  // Where they had not landed, they must before the sources go away.
  FV_RETURN_IF_MPI_ERROR(MPI_Win_flush_all(window));
  FV_RETURN_IF_MPI_ERROR(MPI_Barrier(comm));
  return everywhere != 0;
}

}  // namespace fastvideo::dist
