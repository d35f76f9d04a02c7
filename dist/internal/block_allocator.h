// First-fit allocator of byte ranges inside a window segment's data area.
//
// Blocks are freed in any order (readers acknowledge at their own pace), so
// free ranges are kept sorted by offset and merged with their neighbours.
// Not thread-safe; owned by one channel.
#ifndef FASTVIDEO_DIST_INTERNAL_BLOCK_ALLOCATOR_H_
#define FASTVIDEO_DIST_INTERNAL_BLOCK_ALLOCATOR_H_

#include <cstdint>
#include <map>
#include <optional>

namespace fastvideo::dist {

class BlockAllocator {
 public:
  // Manages [begin, begin + size); sizes are rounded up to `alignment`.
  BlockAllocator(uint64_t begin, uint64_t size, uint64_t alignment);

  // Returns the offset of a block of at least `size` bytes, or nullopt when
  // no free range is large enough.
  std::optional<uint64_t> Allocate(uint64_t size);
  // Returns a block obtained from Allocate(offset's size).
  void Free(uint64_t offset, uint64_t size);

  uint64_t capacity() const { return capacity_; }
  uint64_t bytes_in_use() const { return capacity_ - bytes_free_; }
  uint64_t largest_free_block() const;

 private:
  uint64_t Round(uint64_t size) const;

  uint64_t alignment_;
  uint64_t capacity_;
  uint64_t bytes_free_;
  std::map<uint64_t, uint64_t> free_;  // offset -> size; disjoint, never adjacent
};

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_BLOCK_ALLOCATOR_H_
