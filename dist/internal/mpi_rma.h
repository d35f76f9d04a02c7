// MpiRma: the Rma layer over an MPI window whose members hold a
// passive-target epoch (MPI_Win_lock_all) for the channel's life.
#ifndef FASTVIDEO_DIST_INTERNAL_MPI_RMA_H_
#define FASTVIDEO_DIST_INTERNAL_MPI_RMA_H_

#include <mpi.h>

#include <cstdint>
#include <deque>

#include "absl/status/status.h"
#include "dist/internal/rma.h"

namespace fastvideo::dist {

class MpiRma final : public Rma {
 public:
  // `base` is this member's segment of `window`; `unified` whether the
  // window's memory model is MPI_WIN_UNIFIED (local loads see remote
  // updates without MPI_Win_sync); `ops_land_on_return` as measured by
  // OpsLandOnReturn (op_landing.h).
  MpiRma(MPI_Win window, unsigned char* base, int rank, bool unified, bool ops_land_on_return)
      : window_(window),
        base_(base),
        rank_(rank),
        unified_(unified),
        ops_land_on_return_(ops_land_on_return) {}

  int rank() const override { return rank_; }
  unsigned char* local(uint64_t offset) override { return base_ + offset; }
  bool unified() const override { return unified_; }
  bool ops_land_on_return() const override { return ops_land_on_return_; }

  absl::Status Get(int target, uint64_t offset, void* destination, uint64_t bytes) override;
  absl::Status Put(int target, uint64_t offset, const void* source, uint64_t bytes) override;
  absl::Status StartPut(int target, uint64_t offset, const void* source, uint64_t bytes) override;
  absl::Status StoreWord(int target, uint64_t offset, uint64_t value) override;
  absl::Status AddWord(int target, uint64_t offset, uint64_t value) override;
  absl::Status SendNow(int target) override;
  absl::Status SendAllNow() override;
  absl::Status Complete(int target) override;
  absl::Status CompleteAll() override;
  absl::Status LoadWords(uint64_t offset, int count, uint64_t* values) override;
  void SyncLocalStores() override;
  void Poll() override;

 private:
  static constexpr size_t kMaxPendingWords = 4096;
  absl::Status AccumulateWord(int target, uint64_t offset, uint64_t value, MPI_Op op);

  MPI_Win window_;
  unsigned char* base_;
  int rank_;
  bool unified_;
  bool ops_land_on_return_;
  // Values of word updates not completed yet (a deque: stable addresses).
  std::deque<uint64_t> pending_words_;
};

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_MPI_RMA_H_
