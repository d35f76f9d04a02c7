// libFuzzer target: an inbox slot as its reader finds it in its own memory,
// written by a peer. Input: the 256-byte slot, then the record index the
// reader expects. Whatever CheckRecord accepts must be that record, with a
// payload inside the slot.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "dist/internal/inbox_record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using fastvideo::dist::RecordHeader;
  constexpr size_t kSlotBytes = 256;
  if (size < kSlotBytes + 8) return 0;
  alignas(64) unsigned char slot[kSlotBytes];
  std::memcpy(slot, data, kSlotBytes);
  uint64_t expected;
  std::memcpy(&expected, data + kSlotBytes, sizeof(expected));
  RecordHeader header;
  auto state = fastvideo::dist::CheckRecord(slot, kSlotBytes, expected, &header);
  if (!state.ok() || *state != fastvideo::dist::SlotState::kArrived) return 0;
  if (header.index_plus_one != expected + 1) std::abort();
  if (header.payload_bytes > fastvideo::dist::SlotPayloadBytes(kSlotBytes)) std::abort();
  // The reader copies the payload out of the slot: it must lie inside it.
  unsigned char copy[kSlotBytes];
  std::memcpy(copy, slot + sizeof(RecordHeader), header.payload_bytes);
  return 0;
}
