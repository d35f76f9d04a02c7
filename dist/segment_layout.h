// The layout of one member's window segment, shared by publisher and readers.
//
//   [ control ]  p2p_acked[world]    slots of my stream to rank r that r has
//                                    read (r writes it, MPI_REPLACE)
//                bcast_acked[world]  slots of my broadcast stream r has read
//                barrier[64]         arrivals per dissemination round
//                                    (partners add 1, MPI_SUM)
//   [ rings   ]  p2p[world][ring_slots]  descriptors of my stream to rank r
//                bcast[ring_slots]       descriptors of my broadcast stream
//   [ data    ]  chunks that do not fit inline, 64-byte aligned blocks
//
// Every member's segment has the same layout, so a reader computes offsets
// in the publisher's segment from its own copy of SegmentLayout.
#ifndef FASTVIDEO_DIST_SEGMENT_LAYOUT_H_
#define FASTVIDEO_DIST_SEGMENT_LAYOUT_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"

namespace fastvideo::dist {

// What a descriptor carries, so that a reader notices a mismatched call
// (e.g. a broadcast_obj on one rank against an all_gather_obj on another).
enum class MessageKind : uint64_t {
  kSend = 1,
  kBroadcast = 2,
  kAllGather = 3,
};

const char* MessageKindName(MessageKind kind);

enum class DescriptorState : uint64_t {
  kPublished = 1,
  kExpired = 2,    // data dropped by expire_data(); `expired_at_ns` says when
  kWithdrawn = 3,  // the publisher gave up on this message part-way through
};

// One published chunk. A message is one or more chunks in consecutive slots.
// Chunks of at most kInlineBytes travel inside the descriptor itself, so a
// small object costs a reader one MPI_Get.
struct Descriptor {
  static constexpr size_t kInlineBytes = 160;
  static constexpr uint64_t kInline = ~uint64_t{0};  // data_offset of inline

  uint64_t slot_plus_one;    // 0: never written
  uint64_t kind;             // MessageKind
  uint64_t state;            // DescriptorState
  uint64_t message_seq;      // sequence number of the message in its stream
  uint64_t message_bytes;    // size of the whole message
  uint64_t chunk_offset;     // where this chunk starts in the message
  uint64_t chunk_bytes;
  uint64_t data_offset;      // in the segment, or kInline
  uint64_t payload_hash;     // Hash64 of the chunk (with verify_payloads)
  uint64_t publish_time_ns;  // publisher's clock, ns since the Unix epoch
  uint64_t expired_at_ns;    // when state == kExpired
  uint64_t descriptor_hash;  // Hash64 of the above and the inline bytes used
  unsigned char inline_data[kInlineBytes];

  // Seals the descriptor: computes descriptor_hash.
  void Seal();
  // True when descriptor_hash matches (a read that raced a write does not).
  bool IsSealed() const;

  bool IsLastChunk() const { return chunk_offset + chunk_bytes == message_bytes; }

 private:
  static constexpr uint64_t kHashSeed = 0x5EA10FDE5C000001ull;
  uint64_t ComputeHash() const;
};
static_assert(sizeof(Descriptor) == 256, "Descriptor layout changed");

class SegmentLayout {
 public:
  static constexpr int kBarrierRounds = 64;
  static constexpr uint64_t kAlignment = 64;

  // Fails with InvalidArgument when the segment cannot hold the control
  // area, the rings and at least `min_data_bytes` of data.
  static absl::StatusOr<SegmentLayout> Create(int world_size,
                                              uint64_t ring_slots,
                                              uint64_t segment_bytes,
                                              uint64_t min_data_bytes);

  int world_size() const { return world_size_; }
  uint64_t ring_slots() const { return ring_slots_; }
  uint64_t segment_bytes() const { return segment_bytes_; }

  // Byte offsets of the 64-bit words and descriptors described above.
  uint64_t p2p_acked(int reader) const { return 8 * uint64_t(reader); }
  uint64_t bcast_acked(int reader) const { return 8 * uint64_t(world_size_ + reader); }
  uint64_t acked_begin() const { return 0; }
  uint64_t acked_words() const { return 2 * uint64_t(world_size_); }
  uint64_t barrier(int round) const {
    return 8 * (2 * uint64_t(world_size_) + uint64_t(round));
  }
  uint64_t p2p_descriptor(int reader, uint64_t slot) const {
    return rings_begin_ +
           (uint64_t(reader) * ring_slots_ + slot % ring_slots_) * sizeof(Descriptor);
  }
  uint64_t bcast_descriptor(uint64_t slot) const {
    return p2p_descriptor(world_size_, slot);
  }
  uint64_t data_begin() const { return data_begin_; }
  uint64_t data_bytes() const { return segment_bytes_ - data_begin_; }

 private:
  SegmentLayout() = default;

  int world_size_ = 0;
  uint64_t ring_slots_ = 0;
  uint64_t segment_bytes_ = 0;
  uint64_t rings_begin_ = 0;
  uint64_t data_begin_ = 0;
};

// Checks a published chunk's descriptor, read from a peer, before a reader
// trusts it: it must be chunk `expected_offset` of message
// `expected_message` (whose size is `message_bytes` once a first chunk was
// read, i.e. when expected_offset > 0), and its bytes must lie inside the
// descriptor (inline) or inside the segment's data area. DataLoss says what
// does not fit.
absl::Status CheckChunk(const Descriptor& descriptor, const SegmentLayout& layout,
                        uint64_t expected_message, uint64_t expected_offset,
                        uint64_t message_bytes);

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_SEGMENT_LAYOUT_H_
