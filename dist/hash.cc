#include "dist/hash.h"

#include <cstring>

namespace fastvideo::dist {
namespace {

constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;

uint64_t Load64(const unsigned char* p) {
  uint64_t value;
  std::memcpy(&value, p, sizeof(value));
  return value;
}

uint64_t Mix(uint64_t x) {
  x ^= x >> 32;
  x *= 0xD6E8FEB86659FD93ull;
  x ^= x >> 32;
  x *= 0xD6E8FEB86659FD93ull;
  x ^= x >> 32;
  return x;
}

}  // namespace

uint64_t Hash64(const void* data, size_t size, uint64_t seed) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t lanes[4] = {seed ^ kMul, seed + kMul, ~seed, seed * kMul + 1};
  size_t i = 0;
  for (; i + 32 <= size; i += 32) {
    for (int lane = 0; lane < 4; ++lane) {
      lanes[lane] = (lanes[lane] ^ Load64(p + i + 8 * lane)) * kMul;
      lanes[lane] ^= lanes[lane] >> 29;
    }
  }
  uint64_t h = Mix(lanes[0]) ^ Mix(lanes[1] + 1) ^ Mix(lanes[2] + 2) ^
               Mix(lanes[3] + 3) ^ size;
  for (; i + 8 <= size; i += 8) h = Mix(h ^ Load64(p + i)) * kMul;
  uint64_t tail = 0;
  if (i < size) {
    std::memcpy(&tail, p + i, size - i);
    h = Mix(h ^ tail ^ (uint64_t{size - i} << 56));
  }
  return Mix(h);
}

}  // namespace fastvideo::dist
