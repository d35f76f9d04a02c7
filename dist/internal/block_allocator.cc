#include "dist/internal/block_allocator.h"

#include <algorithm>
#include <iterator>

#include <glog/logging.h>

namespace fastvideo::dist {

BlockAllocator::BlockAllocator(uint64_t begin, uint64_t size,
                               uint64_t alignment)
    : alignment_(alignment),
      capacity_(size / alignment * alignment),
      bytes_free_(capacity_) {
  if (capacity_ > 0) free_.emplace(begin, capacity_);
}

uint64_t BlockAllocator::Round(uint64_t size) const {
  return std::max<uint64_t>(alignment_,
                            (size + alignment_ - 1) / alignment_ * alignment_);
}

std::optional<uint64_t> BlockAllocator::Allocate(uint64_t size) {
  const uint64_t needed = Round(size);
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second < needed) continue;
    const uint64_t offset = it->first;
    const uint64_t rest = it->second - needed;
    free_.erase(it);
    if (rest > 0) free_.emplace(offset + needed, rest);
    bytes_free_ -= needed;
    return offset;
  }
  return std::nullopt;
}

void BlockAllocator::Free(uint64_t offset, uint64_t size) {
  uint64_t length = Round(size);
  auto next = free_.lower_bound(offset);
  CHECK(next == free_.end() || next->first >= offset + length)
      << "BlockAllocator: block at " << offset << " overlaps a free range";
  bytes_free_ += length;
  if (next != free_.end() && next->first == offset + length) {
    length += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto previous = std::prev(next);
    CHECK_LE(previous->first + previous->second, offset)
        << "BlockAllocator: block at " << offset << " freed twice";
    if (previous->first + previous->second == offset) {
      previous->second += length;
      return;
    }
  }
  free_.emplace(offset, length);
}

uint64_t BlockAllocator::largest_free_block() const {
  uint64_t largest = 0;
  for (const auto& [offset, size] : free_) largest = std::max(largest, size);
  return largest;
}

}  // namespace fastvideo::dist
