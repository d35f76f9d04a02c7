// libFuzzer target: an inbox record as its reader finds it in its own
// memory, written by a peer. Input: the 512 bytes a record may span from
// its first slot, then the record index the reader expects. Whatever
// CheckRecord accepts must be that record, with a payload inside the span.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "dist/internal/inbox_record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using fastvideo::dist::RecordHeader;
  constexpr size_t kMaxRecordBytes = 512;
  if (size < kMaxRecordBytes + 8) return 0;
  alignas(64) unsigned char record[kMaxRecordBytes];
  std::memcpy(record, data, kMaxRecordBytes);
  uint64_t expected;
  std::memcpy(&expected, data + kMaxRecordBytes, sizeof(expected));
  RecordHeader header;
  auto state = fastvideo::dist::CheckRecord(record, kMaxRecordBytes, expected, &header);
  if (!state.ok() || *state != fastvideo::dist::SlotState::kArrived) return 0;
  if (header.index_plus_one != expected + 1) std::abort();
  if (header.record_bytes() > kMaxRecordBytes) std::abort();
  // The reader copies the payload out of its inbox: it must lie inside the span.
  unsigned char copy[kMaxRecordBytes];
  std::memcpy(copy, record + sizeof(RecordHeader), header.payload_bytes);
  return 0;
}
