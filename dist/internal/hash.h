// A fast, stable 64-bit hash for checking bytes that crossed the window.
// Stable means: the same bytes give the same value in every process (unlike
// absl::Hash, which is seeded per process), so a reader can check what a
// publisher computed.
#ifndef FASTVIDEO_DIST_INTERNAL_HASH_H_
#define FASTVIDEO_DIST_INTERNAL_HASH_H_

#include <cstddef>
#include <cstdint>

namespace fastvideo::dist {

// Hashes `size` bytes at `data`, continuing from `seed`: 128-bit
// multiply-fold steps of 16 bytes (two lanes on long inputs), so a 200-byte
// descriptor costs a few nanoseconds and long payloads run near memory
// speed. For catching torn or corrupt bytes, not for security.
uint64_t Hash64(const void* data, size_t size, uint64_t seed = 0);

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_HASH_H_
