// libFuzzer target: the segment's descriptor layout as a reader sees it.
// Input: a 256-byte descriptor, then what the reader expects (message,
// offset, size so far). Whatever CheckChunk accepts must lie inside the
// message buffer and inside the descriptor or the segment's data area.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "dist/internal/segment_layout.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using fastvideo::dist::Descriptor;
  if (size < sizeof(Descriptor) + 24) return 0;
  Descriptor descriptor;
  std::memcpy(&descriptor, data, sizeof(descriptor));
  uint64_t expect[3];
  std::memcpy(expect, data + sizeof(descriptor), sizeof(expect));
  static const auto layout = *fastvideo::dist::SegmentLayout::Create(4, 16, 1 << 20, 4096);

  (void)descriptor.IsSealed();
  const uint64_t expected_offset = expect[1] % (1 << 22);
  const uint64_t message_bytes = expected_offset > 0 ? expect[2] : 0;
  if (!fastvideo::dist::CheckChunk(descriptor, layout, expect[0], expected_offset,
                                   message_bytes)
           .ok()) {
    return 0;
  }
  // What the reader would copy, and from where, must be in bounds.
  if (descriptor.chunk_offset + descriptor.chunk_bytes > descriptor.message_bytes) std::abort();
  if (expected_offset > 0 && descriptor.message_bytes != message_bytes) std::abort();
  if (descriptor.data_offset == Descriptor::kInline) {
    if (descriptor.chunk_bytes > Descriptor::kInlineBytes) std::abort();
  } else if (descriptor.data_offset < layout.data_begin() ||
             descriptor.data_offset + descriptor.chunk_bytes > layout.segment_bytes()) {
    std::abort();
  }
  return 0;
}
