#include "dist/internal/fake_rma.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace fastvideo::dist {

FakeWindow::FakeWindow(int members, uint64_t segment_bytes)
    : segment_bytes_(segment_bytes),
      segments_(members, std::vector<unsigned char>(segment_bytes, 0)) {}

size_t FakeWindow::in_flight_to(int target) const {
  return std::count_if(in_flight_.begin(), in_flight_.end(),
                       [target](const Pending& p) { return p.target == target; });
}

absl::Status FakeWindow::CheckRange(int target, uint64_t offset, uint64_t bytes) const {
  if (target < 0 || target >= static_cast<int>(segments_.size()) || offset > segment_bytes_ ||
      bytes > segment_bytes_ - offset) {
    return absl::InternalError(absl::StrCat("fake RMA: access of ", bytes, " bytes at ", offset,
                                            " of member ", target, " is out of range"));
  }
  return absl::OkStatus();
}

absl::Status FakeWindow::Issue(Pending pending) {
  const uint64_t bytes = pending.op == Op::kPut ? pending.bytes.size() : 8;
  if (absl::Status status = CheckRange(pending.target, pending.offset, bytes); !status.ok()) {
    return status;
  }
  in_flight_.push_back(std::move(pending));
  return absl::OkStatus();
}

void FakeWindow::Land(const Pending& p) {
  unsigned char* at = segments_[p.target].data() + p.offset;
  if (p.op == Op::kPut) {
    std::memcpy(at, p.bytes.data(), p.bytes.size());
    return;
  }
  uint64_t word;
  std::memcpy(&word, at, sizeof(word));
  word = p.op == Op::kStore ? p.value : word + p.value;
  std::memcpy(at, &word, sizeof(word));
}

template <typename Predicate>
void FakeWindow::DeliverIf(Predicate predicate) {
  std::deque<Pending> kept;
  for (Pending& p : in_flight_) {
    if (!p.held && predicate(p)) {
      Land(p);
    } else {
      kept.push_back(std::move(p));
    }
  }
  in_flight_ = std::move(kept);
}

void FakeWindow::DeliverFrom(int origin) {
  DeliverIf([origin](const Pending& p) { return p.origin == origin; });
}
void FakeWindow::DeliverTo(int target) {
  DeliverIf([target](const Pending& p) { return p.target == target; });
}
void FakeWindow::DeliverAll() {
  DeliverIf([](const Pending&) { return true; });
}
void FakeWindow::DeliverAllNewestFirst() {
  std::deque<Pending> kept;
  for (auto it = in_flight_.rbegin(); it != in_flight_.rend(); ++it) {
    if (it->held) {
      kept.push_front(std::move(*it));
    } else {
      Land(*it);
    }
  }
  in_flight_ = std::move(kept);
}

void FakeWindow::HoldOldest() {
  if (!in_flight_.empty()) in_flight_.front().held = true;
}

void FakeWindow::LandHeld() {
  for (Pending& p : in_flight_) p.held = false;
  DeliverIf([](const Pending& p) { return true; });
}

void FakeWindow::DeliverNewest(size_t count) {
  while (count-- > 0 && !in_flight_.empty() && !in_flight_.back().held) {
    Land(in_flight_.back());
    in_flight_.pop_back();
  }
}

void FakeWindow::TearOldest(uint64_t bytes) {
  if (in_flight_.empty() || in_flight_.front().op != Op::kPut) return;
  in_flight_.front().held = true;  // the rest lands with LandHeld()
  const Pending& p = in_flight_.front();
  std::memcpy(segments_[p.target].data() + p.offset, p.bytes.data(),
              std::min<uint64_t>(bytes, p.bytes.size()));
}

absl::Status FakeRma::Get(int target, uint64_t offset, void* destination, uint64_t bytes) {
  if (absl::Status status = window_.CheckRange(target, offset, bytes); !status.ok()) {
    return status;
  }
  std::memcpy(destination, window_.segment(target) + offset, bytes);
  if (window_.after_get_ && bytes >= window_.after_get_bytes_) {
    std::exchange(window_.after_get_, nullptr)();
  }
  return absl::OkStatus();
}

absl::Status FakeRma::Put(int target, uint64_t offset, const void* source, uint64_t bytes) {
  const auto* begin = static_cast<const unsigned char*>(source);
  return window_.Issue({rank_, target, offset, FakeWindow::Op::kPut,
                        std::vector<unsigned char>(begin, begin + bytes), 0});
}

absl::Status FakeRma::StoreWord(int target, uint64_t offset, uint64_t value) {
  return window_.Issue({rank_, target, offset, FakeWindow::Op::kStore, {}, value});
}

absl::Status FakeRma::AddWord(int target, uint64_t offset, uint64_t value) {
  return window_.Issue({rank_, target, offset, FakeWindow::Op::kAdd, {}, value});
}

absl::Status FakeRma::Complete(int target) {
  window_.DeliverIf([this, target](const FakeWindow::Pending& p) {
    return p.origin == rank_ && p.target == target;
  });
  return absl::OkStatus();
}

absl::Status FakeRma::CompleteAll() {
  window_.DeliverFrom(rank_);
  return absl::OkStatus();
}

absl::Status FakeRma::LoadWords(uint64_t offset, int count, uint64_t* values) {
  if (absl::Status status = window_.CheckRange(rank_, offset, 8 * uint64_t(count)); !status.ok()) {
    return status;
  }
  std::memcpy(values, local(offset), 8 * size_t(count));
  return absl::OkStatus();
}

}  // namespace fastvideo::dist
