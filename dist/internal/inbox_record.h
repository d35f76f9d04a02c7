// The record a writer pushes into a slot of its reader's inbox (see the
// protocol in segment_layout.h): a header and, for a pushed message, its
// whole payload, sealed by a hash over both, written with one MPI_Put.
//
// The reader checks a slot in its own memory before it trusts it:
// CheckRecord says whether record `expected_index` is all there, and only
// then are its fields and payload bounds used. Whatever a peer wrote,
// checking never reads outside the slot.
#ifndef FASTVIDEO_DIST_INTERNAL_INBOX_RECORD_H_
#define FASTVIDEO_DIST_INTERNAL_INBOX_RECORD_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"

namespace fastvideo::dist {

struct RecordHeader {
  uint64_t index_plus_one;   // the record's number in its inbox stream + 1
  uint64_t message_seq;      // the message's number in its stream
  uint64_t publish_time_ns;  // writer's clock, ns since the Unix epoch
  uint64_t expired_at_ns;    // 0, or when the writer expired the message
  uint32_t kind;             // MessageKind
  uint32_t payload_bytes;    // what follows the header
  uint64_t seal;             // Hash64 of the fields above and the payload

  static constexpr uint64_t kSealSeed = 0x1B0C5EA1ED000002ull;
  bool expired() const { return expired_at_ns != 0; }
  // Seals a header whose payload (payload_bytes of it) is at `payload`.
  void Seal(const unsigned char* payload);
};
static_assert(sizeof(RecordHeader) == 48, "RecordHeader layout changed");

// Largest payload a slot of `slot_bytes` carries.
inline uint64_t SlotPayloadBytes(uint64_t slot_bytes) { return slot_bytes - sizeof(RecordHeader); }

// What a slot holds when the reader expects record `expected_index`.
enum class SlotState {
  kEmpty,    // an older record, or one still landing (torn: read again)
  kArrived,  // `expected_index`, sealed; *header is a copy of its header
};

// A header claiming a payload larger than the slot is one still landing
// (no writer seals such a record). DataLoss for a sealed record that cannot
// be right: a later record than expected (the writer overwrote a slot it
// had no credit for).
absl::StatusOr<SlotState> CheckRecord(const unsigned char* slot, uint64_t slot_bytes,
                                      uint64_t expected_index, RecordHeader* header);

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_INBOX_RECORD_H_
