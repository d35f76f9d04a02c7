#include "dist/internal/segment_layout.h"

#include <algorithm>
#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "dist/internal/hash.h"

namespace fastvideo::dist {
namespace {

uint64_t AlignUp(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

}  // namespace

uint64_t Descriptor::ComputeHash() const {
  // The fields before descriptor_hash, then only the inline bytes in use:
  // a small message costs a short hash, not 256 bytes.
  const uint64_t seed =
      Hash64(this, offsetof(Descriptor, descriptor_hash), kHashSeed);
  const size_t inline_used =
      data_offset == kInline ? std::min<uint64_t>(chunk_bytes, kInlineBytes) : 0;
  return Hash64(inline_data, inline_used, seed);
}

void Descriptor::Seal() { descriptor_hash = ComputeHash(); }

bool Descriptor::IsSealed() const {
  return slot_plus_one != 0 && descriptor_hash == ComputeHash();
}

uint64_t AutoInboxSlotBytes(int world_size, uint64_t segment_bytes, uint64_t slots) {
  constexpr uint64_t kSmallest = 256, kLargest = 1024;
  const InboxShape unit{slots, 1};
  const uint64_t slots_per_member =
      uint64_t(std::max(world_size, 1)) * kInboxStreams * unit.region_bytes();
  if (slots_per_member == 0) return kSmallest;
  const uint64_t fits =
      segment_bytes / 8 / slots_per_member / SegmentLayout::kAlignment * SegmentLayout::kAlignment;
  return std::clamp(fits, kSmallest, kLargest);
}

absl::StatusOr<SegmentLayout> SegmentLayout::Create(int world_size,
                                                    uint64_t ring_slots,
                                                    uint64_t segment_bytes,
                                                    uint64_t min_data_bytes,
                                                    InboxShape inbox) {
  if (world_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("world_size must be positive, got ", world_size));
  }
  if (ring_slots < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("ring_slots must be at least 2, got ", ring_slots));
  }
  if (inbox.slots < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("inbox_slots must be at least 2, got ", inbox.slots));
  }
  if (inbox.slot_bytes % kAlignment != 0 || inbox.slot_bytes < 128 ||
      inbox.slot_bytes > (uint64_t{1} << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inbox_slot_bytes must be a multiple of 64 from 128 to 1 MiB, got ",
        inbox.slot_bytes));
  }
  SegmentLayout layout;
  layout.world_size_ = world_size;
  layout.ring_slots_ = ring_slots;
  layout.segment_bytes_ = segment_bytes;
  layout.inbox_ = inbox;
  const uint64_t control_bytes = 8 * (10 * uint64_t(world_size) + kBarrierRounds + 2);
  layout.inboxes_begin_ = AlignUp(control_bytes, kAlignment);
  layout.rings_begin_ = layout.inboxes_begin_ + InboxBytes(world_size, inbox);
  const uint64_t rings_bytes =
      (uint64_t(world_size) + 1) * ring_slots * sizeof(Descriptor);
  layout.data_begin_ = AlignUp(layout.rings_begin_ + rings_bytes, kAlignment);
  if (segment_bytes < layout.data_begin_ + min_data_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "window segment of ", segment_bytes, " bytes is too small for ",
        world_size, " ranks, ", ring_slots, " ring slots and inboxes of ", inbox.slots,
        " x ", inbox.slot_bytes, " bytes per peer and stream: it needs ", layout.data_begin_,
        " bytes of control, inboxes and descriptors plus at least ",
        min_data_bytes, " bytes of data"));
  }
  return layout;
}

absl::Status CheckChunk(const Descriptor& d, const SegmentLayout& layout,
                        uint64_t expected_message, uint64_t expected_offset,
                        uint64_t message_bytes) {
  auto bad = [&](absl::string_view what) {
    return absl::DataLossError(absl::StrCat(
        "inconsistent descriptor: ", what, " (message #", d.message_seq, ", chunk ",
        d.chunk_offset, "+", d.chunk_bytes, " of ", d.message_bytes,
        " bytes at offset ", d.data_offset, ")"));
  };
  if (d.message_seq != expected_message) {
    return bad(absl::StrCat("expected message #", expected_message));
  }
  if (d.chunk_offset != expected_offset) {
    return bad(absl::StrCat("expected the chunk at ", expected_offset));
  }
  if (expected_offset > 0 && d.message_bytes != message_bytes) {
    return bad(absl::StrCat("earlier chunks said ", message_bytes, " bytes"));
  }
  if (d.chunk_offset > d.message_bytes ||
      d.chunk_bytes > d.message_bytes - d.chunk_offset) {
    return bad("the chunk ends past the message");
  }
  if ((d.chunk_bytes == 0) != (d.message_bytes == 0)) {
    return bad("an empty chunk in a non-empty message");
  }
  if (d.data_offset == Descriptor::kInline) {
    if (d.chunk_bytes > Descriptor::kInlineBytes) return bad("too long to be inline");
  } else if (d.data_offset < layout.data_begin() ||
             d.data_offset > layout.segment_bytes() ||
             d.chunk_bytes > layout.segment_bytes() - d.data_offset) {
    return bad("the chunk lies outside the data area");
  }
  return absl::OkStatus();
}

}  // namespace fastvideo::dist
