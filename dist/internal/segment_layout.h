// The channel's protocol, described once: the layout of a member's window
// segment, who writes each part with which operation, and how a message
// travels. Every remote access goes through internal/rma.h; the push path
// is internal/inbox.h, the pull path and the barrier window_channel.cc.
//
// Segment of member M (every member's has the same layout, so a peer
// computes offsets in M's segment from its own copy of SegmentLayout):
//
//   [ control ]  p2p_acked[r]       ring slots of M's stream to r that r has
//                                   read: r, MPI_Accumulate(MPI_REPLACE)
//                bcast_acked[r]     the same for M's broadcast ring
//                credit[r][s]       records of M's inbox stream s at r that r
//                                   consumed: r, MPI_Accumulate(MPI_REPLACE)
//                notice[w][s]       descriptors writer w has published to M
//                                   on stream s (w's ring slots used): w,
//                                   MPI_Accumulate(MPI_REPLACE)
//                barrier_round[64]  arrivals per dissemination round:
//                                   partners, MPI_Accumulate(MPI_SUM)
//                barrier_arrival[w] the last barrier member w entered (and,
//                                   with the star, w = 0 released): w,
//                                   MPI_Accumulate(MPI_REPLACE)
//                put_probe,         once, at opening: the left neighbour,
//                accumulate_probe   MPI_Put / MPI_Accumulate(MPI_REPLACE)
//                                   (op_landing.h)
//                credit_wanted[w][s] slots writer w had pushed on stream s
//                                   when it ran out of credit and began to
//                                   wait: w, MPI_Accumulate(MPI_REPLACE)
//                collective_note[w] epoch << 2 | state: w is closing the
//                                   group at that epoch (1), or found
//                                   mismatched collectives and left them
//                                   (3): w, MPI_Accumulate(MPI_REPLACE)
//   [ inboxes ]  inbox[w][s][slots records writer w pushed to M: w, one
//                  + tail]          MPI_Put per record (+ flush_local)
//   [ rings   ]  p2p[r][ring_slots] descriptors of M's pull stream to r:
//                                   M, local stores (+ MPI_Win_sync unless
//                bcast[ring_slots]  unified), read by peers with MPI_Get
//   [ data    ]  chunks of pulled messages, 64-byte aligned blocks: M,
//                                   local stores; read by peers with MPI_Get
//
// M reads its own words with atomic acquire loads (MPI_WIN_UNIFIED) or
// MPI_Get_accumulate(MPI_NO_OP); while it waits it calls MPI_Win_sync,
// which lets osc/pt2pt apply peers' operations to its memory.
//
// Streams: per (writer, reader) one for send_obj (s = p2p), per writer one
// for broadcast_obj and all_gather_obj parts (s = collective). Messages of
// a stream are numbered 0, 1, ...; each goes one of two ways, and the
// reader takes them in number order whichever way each went.
//
// Push (a framed payload of at most max_record_bytes - 48 bytes, when
// every reader has credit): the writer seals a record (header + payload,
// hash over both) and puts it, with one MPI_Put, at slot (index % slots) of
// the reader's inbox, covering as many slots as it needs (InboxShape).
// Records are numbered by slot: the next starts where this one ends. Life
// of a slot: written -> sealed (the put has landed whole; a reader that
// sees a torn record fails the seal and looks again) -> consumed by the
// reader in index order -> credited (the reader stores its consumed slot
// count in credit[], a quarter of the inbox at a time, or all of it when a
// wait outlasts its spinning, a barrier or progress()) -> reused by the
// writer, which never writes a slot it has no credit for. Expired: the
// writer overwrites the header only (same index and size, expired_at set,
// sealed without the payload) and completes that put before anything may
// reuse the slots; the reader gets NotFound with both times. A record is
// checked before use (inbox_record.h): index, seal, payload bounds. A
// writer out of credit stores its pushed count into the reader's
// credit_wanted[] and waits briefly, then pulls (Publisher::WaitForCredit);
// a reader that consumes a record and finds the word moved hands all its
// consumed slots back at once, whatever the batch.
//
// Pull (larger messages, or no credit): the writer writes the chunks into
// its data area and a sealed descriptor per chunk into its ring, then
// stores the ring slots used into the reader's notice[] word (every
// reader's, for a broadcast), on its way at once (flush_local). The reader
// polls notice[] in its own memory; once it exceeds the slots it has read,
// it gets the descriptor (MPI_Get), checks it (CheckChunk), gets the data,
// and acknowledges in the writer's p2p_acked/bcast_acked word (completed at
// once for a chunk over 64 KiB, else at its next wait). The writer frees a
// chunk when every reader acknowledged it, or marks it expired in place
// (readers get NotFound); a message cut short is followed by a withdrawal
// marker before anything else on that stream.
//
// Ordering: a put and a notice land in no particular order. The reader
// wanting message #k looks at its next inbox record: #k -> pushed; a later
// number -> #k went the pull way. Otherwise it reads the announced
// descriptor, if any: #k -> pulled; a later number -> #k is a record still
// landing. A message to oneself never enters the window.
//
// Barrier (barrier.h): a member's epoch is the number of barriers it has
// entered. All-to-all: each member stores its epoch into barrier_arrival
// [rank] of every other member and waits until all of its own arrival
// words reach it. Star: members store into member 0's words; member 0,
// once all have come, stores its epoch into barrier_arrival[0] of each,
// which they wait for. Dissemination: in round i each member adds 1 to
// barrier_round[i] of member (rank + 2^i) mod n and waits, polling its own
// word, for its epoch. Before signalling, a member completes its acks and
// credits at their targets (MPI_Win_flush_all); its records and notices
// were put (and, over osc/pt2pt, sent) before its signal.
//
// Close first finishes a barrier that timed out, as a barrier; then it
// meets like a barrier, but first stores collective_note = (epoch,
// closing) into every peer and completes it there, so whoever sees its
// arrival sees its note. A barrier that finds a member closing at or
// before its epoch fails (a barrier is met only by barriers) and notes
// (epoch, left) everywhere; a Close that finds a member that arrived
// without closing does the same, and so does anyone who reads a (left)
// note. Nobody notes closing at an epoch after arriving at it, so all
// closers read the same notes and agree whether the window may be freed.
#ifndef FASTVIDEO_DIST_INTERNAL_SEGMENT_LAYOUT_H_
#define FASTVIDEO_DIST_INTERNAL_SEGMENT_LAYOUT_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "dist/message_key.h"

namespace fastvideo::dist {

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

// The inbox streams a writer has at each reader: one for send_obj, one for
// broadcast_obj and all_gather_obj parts.
enum class InboxStream : int { kP2p = 0, kCollective = 1 };
inline constexpr int kInboxStreams = 2;
inline InboxStream InboxStreamOf(MessageKind kind) {
  return kind == MessageKind::kSend ? InboxStream::kP2p : InboxStream::kCollective;
}

// How many inbox slots each (writer, stream) pair has at a reader, and how
// big each is. A record (a 48-byte header and its payload) covers one or
// more consecutive slots, up to half the inbox, so that a message whose
// framed payload fits max_record_bytes() - 48 is pushed (2000 bytes with
// 16 slots of 256 bytes, 8 KiB - 48 with 1 KiB slots). A record starting
// in one of the last slots runs on past them into a tail of
// max_record_slots() - 1 slots: every record is contiguous.
struct InboxShape {
  uint64_t slots = 16;
  uint64_t slot_bytes = 256;

  uint64_t max_record_slots() const { return slots / 2 > 1 ? slots / 2 : 1; }
  uint64_t max_record_bytes() const { return max_record_slots() * slot_bytes; }
  // Slots a record of `record_bytes` (header included) covers.
  uint64_t SlotsFor(uint64_t record_bytes) const {
    return record_bytes == 0 ? 1 : (record_bytes + slot_bytes - 1) / slot_bytes;
  }
  // One (writer, stream) inbox: the slots and the tail past them.
  uint64_t region_bytes() const { return (slots + max_record_slots() - 1) * slot_bytes; }
};

// The slot size when none is given (inbox slot_bytes 0): the largest
// multiple of 64 from 256 to 1024 bytes with which a member's inboxes take
// at most an eighth of its segment. A segment has its size whatever its
// parts, so larger slots cost data area, not memory: with 32 MiB, 1 KiB
// slots (objects up to 8 KiB pushed) up to 89 ranks, 256 bytes from 356.
uint64_t AutoInboxSlotBytes(int world_size, uint64_t segment_bytes, uint64_t slots);

class SegmentLayout {
 public:
  static constexpr int kBarrierRounds = 64;
  static constexpr uint64_t kAlignment = 64;

  // Fails with InvalidArgument when the segment cannot hold the control
  // area, the inboxes, the rings and at least `min_data_bytes` of data, or
  // when the inbox shape is unusable (slots < 2, slot_bytes not a multiple
  // of 64 or too small for a header and 16 bytes).
  static absl::StatusOr<SegmentLayout> Create(int world_size,
                                              uint64_t ring_slots,
                                              uint64_t segment_bytes,
                                              uint64_t min_data_bytes,
                                              InboxShape inbox = {});
  // Bytes of inboxes a member's segment holds for `world_size` members.
  static uint64_t InboxBytes(int world_size, InboxShape inbox) {
    return uint64_t(world_size) * kInboxStreams * inbox.region_bytes();
  }

  int world_size() const { return world_size_; }
  uint64_t ring_slots() const { return ring_slots_; }
  uint64_t segment_bytes() const { return segment_bytes_; }
  const InboxShape& inbox() const { return inbox_; }

  // Byte offsets of the 64-bit words and descriptors described above.
  uint64_t p2p_acked(int reader) const { return 8 * uint64_t(reader); }
  uint64_t bcast_acked(int reader) const { return 8 * uint64_t(world_size_ + reader); }
  // In a writer's segment: records of its inbox stream at `reader` that the
  // reader consumed (its credit).
  uint64_t credit(int reader, InboxStream stream) const {
    return 8 * (2 * uint64_t(world_size_) + 2 * uint64_t(reader) + uint64_t(stream));
  }
  // Acks and credits, read in one go by the publisher.
  uint64_t acked_begin() const { return 0; }
  uint64_t acked_words() const { return 4 * uint64_t(world_size_); }
  // In a reader's segment: descriptors `writer` has published to it on the
  // pull path of `stream` (the writer's ring slots used), pushed by the writer.
  uint64_t notice(int writer, InboxStream stream) const {
    return 8 * (4 * uint64_t(world_size_) + 2 * uint64_t(writer) + uint64_t(stream));
  }
  uint64_t barrier_round(int round) const {
    return 8 * (6 * uint64_t(world_size_) + uint64_t(round));
  }
  uint64_t barrier_arrival(int member) const {
    return 8 * (6 * uint64_t(world_size_) + kBarrierRounds + uint64_t(member));
  }
  // Written once, when the window opens (op_landing.h): by MPI_Put, and
  // by MPI_Accumulate.
  uint64_t put_probe() const { return barrier_arrival(world_size_); }
  uint64_t accumulate_probe() const { return put_probe() + 8; }
  // In a reader's segment: how many slots `writer` had pushed on `stream`
  // when it last ran out of credit and began to wait for some.
  uint64_t credit_wanted(int writer, InboxStream stream) const {
    return accumulate_probe() + 8 * (1 + 2 * uint64_t(writer) + uint64_t(stream));
  }
  // In every member's segment: `member`'s note on the collective it is in.
  uint64_t collective_note(int member) const {
    return accumulate_probe() + 8 * (1 + 2 * uint64_t(world_size_) + uint64_t(member));
  }
  // In a reader's segment: the slot where record `index` of `writer`'s
  // stream starts (records are numbered by the first slot they cover).
  uint64_t inbox_slot(int writer, InboxStream stream, uint64_t index) const {
    return inboxes_begin_ +
           (uint64_t(writer) * kInboxStreams + uint64_t(stream)) * inbox_.region_bytes() +
           index % inbox_.slots * inbox_.slot_bytes;
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
  InboxShape inbox_;
  uint64_t inboxes_begin_ = 0;
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

#endif  // FASTVIDEO_DIST_INTERNAL_SEGMENT_LAYOUT_H_
