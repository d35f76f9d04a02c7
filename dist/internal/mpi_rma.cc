#include "dist/internal/mpi_rma.h"

#include "dist/internal/mpi_error.h"

namespace fastvideo::dist {

// Transfers are at most a chunk, and chunks are at most 1 GiB (MPI counts
// are int): the casts below do not truncate.

absl::Status MpiRma::Get(int target, uint64_t offset, void* destination, uint64_t bytes) {
  FV_RETURN_IF_MPI_ERROR(MPI_Get(destination, static_cast<int>(bytes), MPI_BYTE, target,
                                 static_cast<MPI_Aint>(offset), static_cast<int>(bytes), MPI_BYTE,
                                 window_));
  // A get is done once its data is here: local completion is enough, and a
  // full flush costs osc/pt2pt one more message.
  FV_RETURN_IF_MPI_ERROR(MPI_Win_flush_local(target, window_));
  return absl::OkStatus();
}

absl::Status MpiRma::Put(int target, uint64_t offset, const void* source, uint64_t bytes) {
  if (absl::Status status = StartPut(target, offset, source, bytes); !status.ok()) {
    return status;
  }
  // Local completion only: a full flush waits for the target (1.3-2.6x
  // slower over osc/pt2pt); the record's seal tells its reader when it is
  // all there.
  return SendNow(target);
}

absl::Status MpiRma::StartPut(int target, uint64_t offset, const void* source, uint64_t bytes) {
  FV_RETURN_IF_MPI_ERROR(MPI_Put(source, static_cast<int>(bytes), MPI_BYTE, target,
                                 static_cast<MPI_Aint>(offset), static_cast<int>(bytes), MPI_BYTE,
                                 window_));
  return absl::OkStatus();
}

absl::Status MpiRma::StoreWord(int target, uint64_t offset, uint64_t value) {
  return AccumulateWord(target, offset, value, MPI_REPLACE);
}

absl::Status MpiRma::AddWord(int target, uint64_t offset, uint64_t value) {
  return AccumulateWord(target, offset, value, MPI_SUM);
}

absl::Status MpiRma::SendNow(int target) {
  FV_RETURN_IF_MPI_ERROR(MPI_Win_flush_local(target, window_));
  return absl::OkStatus();
}

absl::Status MpiRma::SendAllNow() {
  FV_RETURN_IF_MPI_ERROR(MPI_Win_flush_local_all(window_));
  pending_words_.clear();  // locally complete: their values are free
  return absl::OkStatus();
}

absl::Status MpiRma::AccumulateWord(int target, uint64_t offset, uint64_t value, MPI_Op op) {
  // The value must stay put until the operation completes, and completing
  // it at once (even locally) runs MPI's progress engine, which yields the
  // core on an oversubscribed node: it waits in `pending_words_` for the
  // next CompleteAll().
  if (pending_words_.size() >= kMaxPendingWords) {
    if (absl::Status status = CompleteAll(); !status.ok()) return status;
  }
  const uint64_t& kept = pending_words_.emplace_back(value);
  FV_RETURN_IF_MPI_ERROR(MPI_Accumulate(
      &kept, 1, MPI_UINT64_T, target, static_cast<MPI_Aint>(offset), 1, MPI_UINT64_T, op, window_));
  return absl::OkStatus();
}

absl::Status MpiRma::Complete(int target) {
  FV_RETURN_IF_MPI_ERROR(MPI_Win_flush(target, window_));
  return absl::OkStatus();
}

absl::Status MpiRma::CompleteAll() {
  FV_RETURN_IF_MPI_ERROR(MPI_Win_flush_all(window_));
  pending_words_.clear();
  return absl::OkStatus();
}

absl::Status MpiRma::LoadWords(uint64_t offset, int count, uint64_t* values) {
  if (unified_) {
    // Public and private copies are one, and peers' accumulates become
    // visible to local loads without further RMA calls (MPI-3.1, 11.4);
    // acquire loads keep what follows after them. (MPI_Win_sync would add
    // nothing here but, in osc/rdma, a run of the progress engine that
    // yields the core on an oversubscribed node; waiting loops Poll().)
    const auto* words = reinterpret_cast<const uint64_t*>(local(offset));
    for (int i = 0; i < count; ++i) {
      values[i] = __atomic_load_n(&words[i], __ATOMIC_ACQUIRE);
    }
    return absl::OkStatus();
  }
  FV_RETURN_IF_MPI_ERROR(MPI_Get_accumulate(nullptr, 0, MPI_UINT64_T, values, count, MPI_UINT64_T,
                                            rank_, static_cast<MPI_Aint>(offset), count,
                                            MPI_UINT64_T, MPI_NO_OP, window_));
  FV_RETURN_IF_MPI_ERROR(MPI_Win_flush(rank_, window_));
  return absl::OkStatus();
}

void MpiRma::SyncLocalStores() { MPI_Win_sync(window_); }

void MpiRma::Poll() {
  // Runs the progress engine (osc/pt2pt applies incoming puts only then)
  // and syncs public and private copies of the window.
  MPI_Win_sync(window_);
}

}  // namespace fastvideo::dist
