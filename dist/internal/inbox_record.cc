#include "dist/internal/inbox_record.h"

#include <atomic>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "dist/internal/hash.h"

namespace fastvideo::dist {
namespace {

uint64_t ComputeSeal(const RecordHeader& header, const unsigned char* payload) {
  const uint64_t seed = Hash64(&header, offsetof(RecordHeader, seal), RecordHeader::kSealSeed);
  // An expiry marker replaces only the header: the payload under it may be
  // anything by then.
  return header.expired() ? seed : Hash64(payload, header.payload_bytes, seed);
}

}  // namespace

void RecordHeader::Seal(const unsigned char* payload) { seal = ComputeSeal(*this, payload); }

absl::StatusOr<SlotState> CheckRecord(const unsigned char* slot, uint64_t max_record_bytes,
                                      uint64_t expected_index, RecordHeader* header) {
  // A copy: the checks below must see one value of each field. (The slot
  // may still be landing; the seal tells.)
  std::memcpy(header, slot, sizeof(*header));
  std::atomic_thread_fence(std::memory_order_acquire);
  if (header->index_plus_one < expected_index + 1) return SlotState::kEmpty;
  // A torn header may claim any size: never hash past the largest record.
  // (No writer seals such a record, so it is one still landing.)
  if (header->payload_bytes > RecordPayloadBytes(max_record_bytes)) return SlotState::kEmpty;
  if (header->seal != ComputeSeal(*header, slot + sizeof(*header))) return SlotState::kEmpty;
  if (header->index_plus_one > expected_index + 1) {
    return absl::DataLossError(
        absl::StrCat("inbox slot overwritten: expected record ", expected_index, ", found record ",
                     header->index_plus_one - 1, " (the writer pushed without credit)"));
  }
  return SlotState::kArrived;
}

}  // namespace fastvideo::dist
