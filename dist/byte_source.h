// Payloads in place: a large message is encoded straight into its
// publisher's window and decoded straight from it, rather than copied
// through a buffer on either side.
#ifndef FASTVIDEO_DIST_BYTE_SOURCE_H_
#define FASTVIDEO_DIST_BYTE_SOURCE_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace fastvideo::dist {

// Payloads at least this large are written and read in place.
inline constexpr uint64_t kInPlaceBytes = uint64_t{256} << 10;

// Where the bytes of a payload come from when they are not all in memory.
class ByteSource {
 public:
  // Copies `size` bytes from byte `offset` of the payload to `destination`.
  virtual absl::Status Read(uint64_t offset, void* destination, size_t size) = 0;

 protected:
  ~ByteSource() = default;
};

// Consumes a payload of `size` bytes whose first bytes are `prefix` and
// all of which `rest` can read.
class InPlaceReader {
 public:
  virtual absl::Status Read(absl::string_view prefix, uint64_t size, ByteSource& rest) = 0;

 protected:
  ~InPlaceReader() = default;
};

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_BYTE_SOURCE_H_
