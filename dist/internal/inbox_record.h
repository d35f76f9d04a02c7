// The record a writer pushes into its reader's inbox (see the protocol in
// segment_layout.h): a header and, for a pushed message, its whole payload,
// sealed by a hash over both, written with one MPI_Put over one or more
// slots.
//
// The reader checks a record in its own memory before it trusts it:
// CheckRecord says whether record `expected_index` is all there, and only
// then are its fields and payload bounds used. Whatever a peer wrote,
// checking never reads past the largest record a slot may start.
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
  uint32_t payload_bytes;    // what follows the header (kept when expired:
                             // it says how many slots the record covers)
  uint64_t seal;             // Hash64 of the fields above and the payload
                             // (the fields alone once expired)

  static constexpr uint64_t kSealSeed = 0x1B0C5EA1ED000003ull;
  bool expired() const { return expired_at_ns != 0; }
  uint64_t record_bytes() const { return sizeof(RecordHeader) + payload_bytes; }
  // Seals a header whose payload (payload_bytes of it) is at `payload`;
  // an expired header is sealed alone, and `payload` may be null.
  void Seal(const unsigned char* payload);
};
static_assert(sizeof(RecordHeader) == 48, "RecordHeader layout changed");

// Largest payload a record of `record_bytes` carries.
inline uint64_t RecordPayloadBytes(uint64_t record_bytes) {
  return record_bytes - sizeof(RecordHeader);
}

// What a slot holds when the reader expects record `expected_index`.
enum class SlotState {
  kEmpty,    // an older record, or one still landing (torn: read again)
  kArrived,  // `expected_index`, sealed; *header is a copy of its header
};

// `slot` is where the record starts, with `max_record_bytes` readable from
// there. A header claiming a payload larger than that is one still landing
// (no writer seals such a record). DataLoss for a sealed record that cannot
// be right: a later record than expected (the writer overwrote a slot it
// had no credit for).
absl::StatusOr<SlotState> CheckRecord(const unsigned char* slot, uint64_t max_record_bytes,
                                      uint64_t expected_index, RecordHeader* header);

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_INBOX_RECORD_H_
