// Rma: every remote memory access of the channel, in one thin layer (as Open
// MPI's osc/rdma routes every transfer through osc_rdma_btl_comm.h).
//
// A member owns one segment of a window; peers read and write it with the
// operations below. MpiRma (mpi_rma.h) is the real thing over an MPI window
// under a passive-target epoch; FakeRma (fake_rma.h) is an in-process
// stand-in whose puts can be held back, reordered and torn, so that the
// protocol is unit-tested without mpirun.
//
// What each call promises is what the protocol relies on (protocol.h):
// - Get: the bytes are here when it returns (MPI_Get + MPI_Win_flush_local).
// - Put: one operation; `source` may be reused when it returns
//   (MPI_Win_flush_local); the bytes land at the target later, in no order
//   with other puts, and a reader may see them half-written.
//   StartPut + SendNow is the same in two steps, unless ops_land_on_return():
//   then StartPut alone is (single-copy shared memory has copied the bytes
//   into the target's segment when MPI_Put returns), and StoreWord/AddWord
//   are done at the target when they return.
// - StoreWord/AddWord: atomic on one 64-bit word (MPI_Accumulate with
//   MPI_REPLACE / MPI_SUM); done at the target after Complete(target) or
//   CompleteAll(). SendNow(target): what was issued to `target` is on its
//   way (locally complete) and lands without further calls from here.
// - LoadWords: atomic loads of this member's words that peers update.
// - Poll: lets peers' operations land here (osc/pt2pt applies them only
//   while this member is inside MPI) and makes them visible to local loads.
#ifndef FASTVIDEO_DIST_INTERNAL_RMA_H_
#define FASTVIDEO_DIST_INTERNAL_RMA_H_

#include <cstdint>

#include "absl/status/status.h"

namespace fastvideo::dist {

class Rma {
 public:
  virtual ~Rma() = default;

  virtual int rank() const = 0;
  // MPI_WIN_UNIFIED: local loads see peers' updates, and peers' reads see
  // local stores, without MPI_Win_sync.
  virtual bool unified() const = 0;
  // Whether StartPut, StoreWord and AddWord have done their work at the
  // target when they return, so that neither reusing a source nor landing
  // needs SendNow: a flush costs a context switch on an oversubscribed node
  // (Open MPI's progress engine yields the core there). See op_landing.h.
  // Only the writer's hot paths skip it (a push, a barrier signal): a
  // reader's flush of its credits while it waits yields to the writer it
  // waits for, which made 4-rank broadcasts 2x faster than skipping it too.
  virtual bool ops_land_on_return() const = 0;
  // This member's own segment, at `offset`.
  virtual unsigned char* local(uint64_t offset) = 0;

  // Reads `bytes` at `offset` of `target`'s segment; done when it returns.
  virtual absl::Status Get(int target, uint64_t offset, void* destination, uint64_t bytes) = 0;

  // Writes `bytes` into `target`'s segment with one operation (see above).
  virtual absl::Status Put(int target, uint64_t offset, const void* source, uint64_t bytes) = 0;
  // A put whose `source` must stay untouched until SendNow(target) or
  // SendAllNow(), so that puts to several targets go out together.
  virtual absl::Status StartPut(int target, uint64_t offset, const void* source,
                                uint64_t bytes) = 0;
  virtual absl::Status StoreWord(int target, uint64_t offset, uint64_t value) = 0;
  virtual absl::Status AddWord(int target, uint64_t offset, uint64_t value) = 0;
  virtual absl::Status SendNow(int target) = 0;
  // SendNow for every target (MPI_Win_flush_local_all).
  virtual absl::Status SendAllNow() = 0;
  // Completes at the target every operation issued to it (MPI_Win_flush).
  virtual absl::Status Complete(int target) = 0;
  virtual absl::Status CompleteAll() = 0;

  virtual absl::Status LoadWords(uint64_t offset, int count, uint64_t* values) = 0;
  // Orders this member's own stores into its segment before what follows,
  // for peers' reads (MPI_Win_sync).
  virtual void SyncLocalStores() = 0;
  virtual void Poll() = 0;
};

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_RMA_H_
