#include "dist/internal/hash.h"

#include <cstring>

namespace fastvideo::dist {
namespace {

// Odd 64-bit constants with well-spread bits.
constexpr uint64_t kKey0 = 0xA0761D6478BD642Full;
constexpr uint64_t kKey1 = 0xE7037ED1A0B428DBull;
constexpr uint64_t kKey2 = 0x8EBC6AF09C88C6E3ull;
constexpr uint64_t kKey3 = 0x589965CC75374CC3ull;

uint64_t Load64(const unsigned char* p) {
  uint64_t value;
  std::memcpy(&value, p, sizeof(value));
  return value;
}

// The 128-bit product of a and b, folded to 64 bits: one multiply mixes
// 16 input bytes into the state.
uint64_t Fold(uint64_t a, uint64_t b) {
  const unsigned __int128 product = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(product) ^ static_cast<uint64_t>(product >> 64);
}

}  // namespace

uint64_t Hash64(const void* data, size_t size, uint64_t seed) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t a = seed ^ kKey0, b = seed ^ kKey3;
  size_t i = 0;
  // Two independent lanes of 16 bytes keep long inputs near memory speed.
  for (; i + 32 <= size; i += 32) {
    a = Fold(Load64(p + i) ^ kKey1, Load64(p + i + 8) ^ a);
    b = Fold(Load64(p + i + 16) ^ kKey2, Load64(p + i + 24) ^ b);
  }
  uint64_t h = a ^ Fold(b, kKey1);
  for (; i + 16 <= size; i += 16) h = Fold(Load64(p + i) ^ kKey1, Load64(p + i + 8) ^ h);
  uint64_t tail[2] = {0, 0};
  if (i < size) std::memcpy(tail, p + i, size - i);
  h = Fold(tail[0] ^ kKey2, tail[1] ^ h);
  return Fold(h ^ kKey0, size ^ kKey3);
}

}  // namespace fastvideo::dist
