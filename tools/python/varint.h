// The variable-length integers of the Python object wire (object_codec.h):
// LEB128, 7 bits a byte, least significant first, so that the lengths and
// counts of plain data take one byte or two instead of eight; ints are
// zigzagged first (0, -1, 1, -2... -> 0, 1, 2, 3...) so that small negative
// ones stay short too.
#ifndef FASTVIDEO_DIST_TOOLS_PYTHON_VARINT_H_
#define FASTVIDEO_DIST_TOOLS_PYTHON_VARINT_H_

#include <cstddef>
#include <cstdint>

namespace fastvideo::python {

inline constexpr size_t kMaxVarintBytes = 10;

inline constexpr uint64_t ZigZag(int64_t value) {
  return (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
}
inline constexpr int64_t UnZigZag(uint64_t value) {
  return static_cast<int64_t>(value >> 1) ^ -static_cast<int64_t>(value & 1);
}

inline constexpr uint64_t VarintBytes(uint64_t value) {
  uint64_t bytes = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++bytes;
  }
  return bytes;
}

// Writes `value` at `out` (room for kMaxVarintBytes); returns the bytes used.
inline size_t PutVarint(uint64_t value, unsigned char* out) {
  size_t used = 0;
  while (value >= 0x80) {
    out[used++] = static_cast<unsigned char>(value | 0x80);
    value >>= 7;
  }
  out[used++] = static_cast<unsigned char>(value);
  return used;
}

// A value's tag byte and a varint after it (object_codec.h), at `out`
// (room for 1 + kMaxVarintBytes); returns the bytes used.
inline size_t PutTagAndVarint(unsigned char tag, uint64_t value, unsigned char* out) {
  out[0] = tag;
  return 1 + PutVarint(value, out + 1);
}

}  // namespace fastvideo::python

#endif  // FASTVIDEO_DIST_TOOLS_PYTHON_VARINT_H_
