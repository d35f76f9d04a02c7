// FakeRma: an in-process stand-in for MpiRma, for unit tests of the
// protocol without mpirun. A FakeWindow holds every member's segment; each
// member talks to it through its own FakeRma.
//
// Like MPI's one-sided operations (and unlike a shared array), puts and word
// updates do not land when issued: they wait in the window until the
// origin completes them (Complete/CompleteAll), the target polls (Poll, as
// osc/pt2pt applies them only then), or the test delivers them — in order,
// in reverse, or only the first bytes of one (a torn put). Gets read at once.
#ifndef FASTVIDEO_DIST_INTERNAL_FAKE_RMA_H_
#define FASTVIDEO_DIST_INTERNAL_FAKE_RMA_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "dist/internal/rma.h"

namespace fastvideo::dist {

class FakeWindow {
 public:
  FakeWindow(int members, uint64_t segment_bytes);

  unsigned char* segment(int member) { return segments_[member].data(); }
  uint64_t segment_bytes() const { return segment_bytes_; }

  // Operations issued and not landed yet.
  size_t in_flight() const { return in_flight_.size(); }
  size_t in_flight_to(int target) const;
  // Lands every operation in flight from `origin` / to `target` / all of
  // them, oldest first.
  void DeliverFrom(int origin);
  void DeliverTo(int target);
  void DeliverAll();
  // Lands the newest operation first: puts are unordered.
  void DeliverAllNewestFirst();
  // Lands only the newest `count` operations in flight.
  void DeliverNewest(size_t count);
  // Keeps the oldest operation in flight from landing, whoever polls or
  // completes, until LandHeld(): a put overtaken by later ones.
  void HoldOldest();
  void LandHeld();
  // Writes only the first `bytes` of the oldest operation in flight, which
  // stays in flight (the rest lands later): what a reader sees of a torn put.
  void TearOldest(uint64_t bytes);

  // Runs `action` once, right after the next get of at least `bytes` bytes
  // has read its data: what a peer does while a reader reads.
  void AfterNextGet(uint64_t bytes, std::function<void()> action) {
    after_get_bytes_ = bytes;
    after_get_ = std::move(action);
  }

 private:
  friend class FakeRma;
  enum class Op { kPut, kStore, kAdd };
  struct Pending {
    int origin;
    int target;
    uint64_t offset;
    Op op;
    std::vector<unsigned char> bytes;  // kPut
    uint64_t value;                    // kStore, kAdd
    bool held = false;
  };
  absl::Status Issue(Pending pending);
  absl::Status CheckRange(int target, uint64_t offset, uint64_t bytes) const;
  void Land(const Pending& pending);
  template <typename Predicate>
  void DeliverIf(Predicate predicate);

  uint64_t segment_bytes_;
  std::vector<std::vector<unsigned char>> segments_;
  std::deque<Pending> in_flight_;
  uint64_t after_get_bytes_ = 0;
  std::function<void()> after_get_;
};

class FakeRma final : public Rma {
 public:
  FakeRma(FakeWindow& window, int rank) : window_(window), rank_(rank) {}

  int rank() const override { return rank_; }
  bool unified() const override { return true; }
  bool ops_land_on_return() const override { return false; }  // puts are held back
  unsigned char* local(uint64_t offset) override { return window_.segment(rank_) + offset; }
  absl::Status Get(int target, uint64_t offset, void* destination, uint64_t bytes) override;
  absl::Status Put(int target, uint64_t offset, const void* source, uint64_t bytes) override;
  absl::Status StartPut(int target, uint64_t offset, const void* source, uint64_t bytes) override {
    return Put(target, offset, source, bytes);  // copies at once
  }
  absl::Status StoreWord(int target, uint64_t offset, uint64_t value) override;
  absl::Status AddWord(int target, uint64_t offset, uint64_t value) override;
  absl::Status SendNow(int target) override { return absl::OkStatus(); }
  absl::Status SendAllNow() override { return absl::OkStatus(); }
  absl::Status Complete(int target) override;
  absl::Status CompleteAll() override;
  absl::Status LoadWords(uint64_t offset, int count, uint64_t* values) override;
  void SyncLocalStores() override {}
  void Poll() override { window_.DeliverTo(rank_); }

 private:
  FakeWindow& window_;
  int rank_;
};

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_FAKE_RMA_H_
