#include "dist/internal/publisher.h"

#include <glog/logging.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dist/internal/hash.h"

namespace fastvideo::dist {
namespace {

constexpr uint64_t kMaxChunkBytes = uint64_t{1} << 30;  // MPI counts are int

absl::Status CodecRefused(const ChannelContext& ctx, const MessageKey& key, uint64_t size) {
  return absl::InternalError(absl::StrCat(ctx.Where(), ": ", key.ToString(),
                                          ": the object's codec did not write the ", size,
                                          " bytes it announced; nothing was published"));
}

}  // namespace

Publisher::Publisher(const ChannelContext& context)
    : ctx_(context),
      allocator_(context.layout.data_begin(), context.layout.data_bytes(),
                 SegmentLayout::kAlignment),
      ledger_(context.stats),
      inbox_(context.rma, context.layout),
      p2p_out_(context.world_size) {
  const SegmentLayout& layout = ctx_.layout;
  max_chunk_bytes_ =
      ctx_.options.max_chunk_bytes != 0
          ? ctx_.options.max_chunk_bytes
          : layout.data_bytes() / 4 / SegmentLayout::kAlignment * SegmentLayout::kAlignment;
  max_chunk_bytes_ = std::clamp<uint64_t>(max_chunk_bytes_, Descriptor::kInlineBytes,
                                          std::min(kMaxChunkBytes, allocator_.capacity()));
}

absl::Status Publisher::Publish(MessageKind kind, int dst, uint64_t size, ChunkWriter write,
                                Deadline deadline, IdleFn idle) {
  OutStream& stream = out_stream(dst);
  const MessageKey key{kind, ctx_.rank, dst, stream.next_message};
  if (dst == MessageKey::kEveryRank && ctx_.world_size == 1) {
    ++stream.next_message;  // nobody to read it
    return absl::OkStatus();
  }
  const absl::Time now = ctx_.options.clock();
  if (absl::Status status = ExpireData(now); !status.ok()) return status;
  if (dst == ctx_.rank) return PublishToSelf(key, size, write, now);
  // A message withdrawn earlier must be marked before anything follows it.
  if (absl::Status status = PublishWithdrawal(dst, deadline, idle); !status.ok()) {
    return status;
  }
  absl::StatusOr<bool> pushed = TryPush(key, size, write, now, deadline, idle);
  if (!pushed.ok() || *pushed) return pushed.status();
  if (size <= inbox_.max_payload_bytes()) ++ctx_.stats.objects_sent_pulled_for_credit;
  return PublishPulled(key, size, write, now, deadline, idle);
}

// ---------------------------------------------------------------- to self

absl::Status Publisher::PublishToSelf(const MessageKey& key, uint64_t size, ChunkWriter write,
                                      absl::Time now) {
  std::string bytes(size, '\0');
  for (uint64_t offset = 0; offset < size; offset += max_chunk_bytes_) {
    const uint64_t chunk_bytes = std::min(max_chunk_bytes_, size - offset);
    if (!write(bytes.data() + offset, offset, chunk_bytes)) {
      return CodecRefused(ctx_, key, size);
    }
  }
  const uint64_t entry_id = ledger_.Open(key, now);
  ledger_.AddParts(entry_id, 1);
  ledger_.Close(entry_id);
  self_queue_.push_back({std::move(bytes), entry_id, now, std::nullopt});
  ++out_stream(key.dst).next_message;
  ++ctx_.stats.objects_sent;
  ++ctx_.stats.objects_sent_to_self;
  ctx_.stats.bytes_sent += size;
  return absl::OkStatus();
}

absl::Status Publisher::TakeFromSelf(const MessageKey& key, std::string* message) {
  if (self_queue_.empty()) {
    // Nothing can arrive while this member waits for itself.
    return absl::DeadlineExceededError(
        absl::StrCat(ctx_.Where(), ": ", key.ToString(),
                     ": nothing sent to self to receive (a message to "
                     "oneself must be sent before it is received)"));
  }
  SelfMessage self = std::move(self_queue_.front());
  self_queue_.pop_front();
  if (self.expired_at) {
    return absl::NotFoundError(
        absl::StrCat(ctx_.Where(), ": ", key.ToString(), " from ", ctx_.RankName(key.src),
                     " expired before it was read: published at ", FormatTime(UnixNanos(self.time)),
                     ", expired at ", FormatTime(UnixNanos(*self.expired_at)), " (data_expiration ",
                     absl::FormatDuration(ctx_.options.data_expiration), " at the publisher)"));
  }
  ledger_.Release(self.entry_id, self.bytes.size(), /*by_expiration=*/false);
  *message = std::move(self.bytes);
  return absl::OkStatus();
}

// ------------------------------------------------------------------ pushed

absl::StatusOr<bool> Publisher::TryPush(const MessageKey& key, uint64_t size, ChunkWriter write,
                                        absl::Time now, Deadline& deadline, IdleFn idle) {
  if (size > inbox_.max_payload_bytes()) return false;
  const InboxStream inbox = InboxStreamOf(key.kind);
  readers_.clear();
  for (int r = 0; r < ctx_.world_size; ++r) {
    if (r != ctx_.rank && (key.dst == MessageKey::kEveryRank || r == key.dst)) {
      readers_.push_back(r);
    }
  }
  // A message goes one way to all its readers: pushed only if each has room.
  // Credit is read from memory when it seems short, and at least every half
  // inbox, so that consumed records are forgotten as the writer goes.
  for (int r : readers_) {
    if (!inbox_.HasCredit(r, inbox, size) ||
        inbox_.unacknowledged(r, inbox) >= ctx_.layout.inbox().slots / 2) {
      if (absl::Status status = RefreshCredit(r, inbox); !status.ok()) return status;
    }
    if (!inbox_.HasCredit(r, inbox, size)) {
      absl::StatusOr<bool> credited = WaitForCredit(r, inbox, size, deadline, idle);
      if (!credited.ok() || !*credited) return credited;
    }
  }
  // Encoded once, straight into the record, whatever the number of readers.
  const uint64_t entry_id = ledger_.next_id();
  absl::StatusOr<bool> pushed =
      inbox_.Push(readers_, inbox, key.kind, key.seq, UnixNanos(now), size, entry_id,
                  [write, size](char* to) { return write(to, 0, size); });
  if (!pushed.ok()) return pushed.status();
  if (!*pushed) return CodecRefused(ctx_, key, size);
  ledger_.Open(key, now);
  ledger_.AddParts(entry_id, readers_.size());
  ledger_.Close(entry_id);
  ++out_stream(key.dst).next_message;
  ++ctx_.stats.objects_sent;
  ++ctx_.stats.objects_sent_pushed;
  ctx_.stats.bytes_sent += size;
  VLOG(2) << ctx_.Where() << ": pushed " << key.ToString() << " (" << size << " bytes)";
  return true;
}

// ------------------------------------------------------------------ pulled

absl::Status Publisher::PublishPulled(const MessageKey& key, uint64_t size, ChunkWriter write,
                                      absl::Time now, Deadline& deadline, IdleFn idle) {
  OutStream& stream = out_stream(key.dst);
  std::optional<uint64_t> entry_id;
  // Part of the message is out: readers must drop it, not wait for the
  // rest. The marker goes out as soon as a ring slot frees up.
  auto withdraw = [&] {
    if (!entry_id) return;
    stream.withdrawn_message = key.seq;
    stream.withdrawn_kind = key.kind;
    ++stream.next_message;
    ledger_.Close(*entry_id);
  };
  uint64_t offset = 0;
  do {
    const uint64_t chunk_bytes = std::min<uint64_t>(max_chunk_bytes_, size - offset);
    absl::StatusOr<uint64_t> block = WaitForRoom(key.dst, chunk_bytes, key, deadline, idle);
    if (!block.ok()) {
      withdraw();
      return block.status();
    }
    Descriptor descriptor{};
    descriptor.slot_plus_one = stream.next_slot + 1;
    descriptor.kind = static_cast<uint64_t>(key.kind);
    descriptor.state = static_cast<uint64_t>(DescriptorState::kPublished);
    descriptor.message_seq = key.seq;
    descriptor.message_bytes = size;
    descriptor.chunk_offset = offset;
    descriptor.chunk_bytes = chunk_bytes;
    descriptor.data_offset = *block;
    descriptor.publish_time_ns = UnixNanos(now);
    if (!WriteChunk(key.dst, descriptor, write)) {
      if (*block != Descriptor::kInline) allocator_.Free(*block, chunk_bytes);
      withdraw();
      return CodecRefused(ctx_, key, size);
    }
    if (!entry_id) entry_id = ledger_.Open(key, now);
    stream.pending.push_back({stream.next_slot, *block, chunk_bytes, *entry_id, true});
    ledger_.AddParts(*entry_id, 1);
    ++stream.next_slot;
    offset += chunk_bytes;
    ctx_.stats.peak_bytes_in_use =
        std::max(ctx_.stats.peak_bytes_in_use, allocator_.bytes_in_use());
    ctx_.stats.bytes_in_use = allocator_.bytes_in_use();
    if (absl::Status status = NotifyReaders(key.dst, stream.next_slot); !status.ok()) {
      return status;
    }
  } while (offset < size);

  ++stream.next_message;
  ++ctx_.stats.objects_sent;
  ctx_.stats.bytes_sent += size;
  ledger_.Close(*entry_id);
  VLOG(2) << ctx_.Where() << ": published " << key.ToString() << " (" << size << " bytes)";
  return absl::OkStatus();
}

// A writer that runs ahead of a reader that is reading gets credit back
// within microseconds, and a pushed message costs that reader far less than
// a pulled one (a descriptor read and a data read, each a round trip over
// osc/pt2pt): so the writer asks for credit (the reader answers as soon as
// it consumes a record) and waits a little. A reader that hands none back
// in that time is busy elsewhere: until it does, messages to it are pulled
// at once.
absl::StatusOr<bool> Publisher::WaitForCredit(int dst, InboxStream inbox, uint64_t size,
                                              Deadline& deadline, IdleFn idle) {
  if (inbox_.stalled(dst, inbox)) return false;
  if (absl::Status status = inbox_.AskForCredit(dst, inbox); !status.ok()) return status;
  Deadline wait = Deadline::After(kCreditWait);
  Backoff backoff(ctx_.oversubscribed);
  while (true) {
    if (absl::Status status = idle(backoff); !status.ok()) return status;
    if (absl::Status status = RefreshCredit(dst, inbox); !status.ok()) return status;
    if (inbox_.HasCredit(dst, inbox, size)) return true;
    if (backoff.ShouldCheckClock() && (wait.Passed() || deadline.Passed())) {
      inbox_.MarkStalled(dst, inbox);
      return false;
    }
  }
}

absl::StatusOr<uint64_t> Publisher::WaitForRoom(int dst, uint64_t bytes, const MessageKey& key,
                                                Deadline& deadline, IdleFn idle) {
  OutStream& stream = out_stream(dst);
  Backoff backoff(ctx_.oversubscribed);
  while (true) {
    if (absl::Status status = Reclaim(); !status.ok()) return status;
    const bool ring_free =
        stream.pending.empty() ||
        stream.next_slot - stream.pending.front().slot < ctx_.layout.ring_slots();
    if (ring_free) {
      if (bytes <= Descriptor::kInlineBytes) return Descriptor::kInline;
      if (std::optional<uint64_t> block = allocator_.Allocate(bytes)) return *block;
    }
    if (backoff.ShouldCheckClock() && deadline.Passed()) return NoRoomError(dst, bytes, key);
    if (absl::Status status = idle(backoff); !status.ok()) return status;
  }
}

absl::Status Publisher::NoRoomError(int dst, uint64_t bytes, const MessageKey& key) const {
  const OutStream& stream = dst == MessageKey::kEveryRank ? bcast_out_ : p2p_out_[dst];
  const uint64_t oldest = stream.pending.empty() ? stream.next_slot : stream.pending.front().slot;
  return absl::ResourceExhaustedError(
      absl::StrCat(ctx_.Where(), ": ", MessageKindName(key.kind), " ", key.ToString(),
                   ": no room for ", bytes, " bytes before the deadline (",
                   allocator_.bytes_in_use(), " of ", allocator_.capacity(), " data bytes in use, ",
                   stream.next_slot - oldest, " of ", ctx_.layout.ring_slots(), " ring slots to ",
                   dst == MessageKey::kEveryRank ? std::string("every rank") : ctx_.RankName(dst),
                   " in use); waiting for ", Laggards(dst, oldest), " to read"));
}

std::string Publisher::Laggards(int dst, uint64_t slot) const {
  std::vector<int> ranks;
  if (dst != MessageKey::kEveryRank) {
    ranks.push_back(dst);
  } else {
    for (int r = 0; r < ctx_.world_size; ++r) {
      if (r != ctx_.rank && acked_[ctx_.layout.bcast_acked(r) / 8] <= slot) ranks.push_back(r);
    }
  }
  // Data space is shared by all streams: name every reader that is behind.
  for (int r = 0; r < ctx_.world_size; ++r) {
    if (!p2p_out_[r].pending.empty() && std::find(ranks.begin(), ranks.end(), r) == ranks.end()) {
      ranks.push_back(r);
    }
  }
  return ranks.empty() ? std::string("no rank (the segment is too small)")
                       : absl::StrJoin(ranks, ", ", [this](std::string* out, int rank) {
                           absl::StrAppend(out, ctx_.RankName(rank));
                         });
}

bool Publisher::WriteChunk(int dst, const Descriptor& descriptor, ChunkWriter write) {
  Descriptor sealed = descriptor;
  char* destination = sealed.data_offset == Descriptor::kInline
                          ? reinterpret_cast<char*>(sealed.inline_data)
                          : reinterpret_cast<char*>(ctx_.rma.local(sealed.data_offset));
  // (memcpy must not see the null data() of an empty chunk.)
  if (sealed.chunk_bytes > 0 && !write(destination, sealed.chunk_offset, sealed.chunk_bytes)) {
    return false;
  }
  if (ctx_.options.verify_payloads) {
    sealed.payload_hash = Hash64(destination, sealed.chunk_bytes);
  }
  sealed.Seal();
  // Data in the data area must reach the window's public copy before the
  // descriptor that points at it. Inline data needs no such order: the
  // seal covers it, and a reader that sees a half-written descriptor fails
  // the seal and reads again. (MPI_Win_sync also runs osc/rdma's progress
  // engine, which yields the core on an oversubscribed node: small
  // messages skip it.)
  if (sealed.data_offset != Descriptor::kInline) ctx_.rma.SyncLocalStores();
  std::atomic_thread_fence(std::memory_order_release);
  std::memcpy(ctx_.rma.local(descriptor_offset(dst, descriptor.slot_plus_one - 1)), &sealed,
              sizeof(sealed));
  // In the unified model a store reaches remote MPI_Gets without further
  // calls (MPI-3.1, 11.4); the separate model needs a sync.
  if (!ctx_.rma.unified()) ctx_.rma.SyncLocalStores();
  return true;
}

absl::Status Publisher::NotifyReaders(int dst, uint64_t published_slots) {
  const InboxStream inbox =
      dst == MessageKey::kEveryRank ? InboxStream::kCollective : InboxStream::kP2p;
  for (int r = 0; r < ctx_.world_size; ++r) {
    if (r == ctx_.rank || (dst != MessageKey::kEveryRank && r != dst)) continue;
    if (absl::Status status =
            ctx_.rma.StoreWord(r, ctx_.layout.notice(ctx_.rank, inbox), published_slots);
        !status.ok()) {
      return status;
    }
    // On its way now: the reader must not depend on this member's next call.
    if (absl::Status status = ctx_.rma.SendNow(r); !status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status Publisher::PublishWithdrawal(int dst, Deadline& deadline, IdleFn idle) {
  OutStream& stream = out_stream(dst);
  if (!stream.withdrawn_message) return absl::OkStatus();
  const MessageKey key{stream.withdrawn_kind, ctx_.rank, dst, *stream.withdrawn_message};
  absl::StatusOr<uint64_t> slot = WaitForRoom(dst, 0, key, deadline, idle);
  if (!slot.ok()) return slot.status();
  Descriptor marker{};
  marker.slot_plus_one = stream.next_slot + 1;
  marker.state = static_cast<uint64_t>(DescriptorState::kWithdrawn);
  marker.message_seq = *stream.withdrawn_message;
  marker.data_offset = Descriptor::kInline;
  marker.publish_time_ns = UnixNanos(ctx_.options.clock());
  WriteChunk(dst, marker, [](char*, uint64_t, uint64_t) { return true; });
  // Not live: nothing to free, but it holds its ring slot until read.
  stream.pending.push_back({stream.next_slot, Descriptor::kInline, 0, /*entry_id=*/0, false});
  ++stream.next_slot;
  stream.withdrawn_message.reset();
  return NotifyReaders(dst, stream.next_slot);
}

absl::Status Publisher::PublishPendingWithdrawals(IdleFn idle) {
  // Markers that still find no room wait for the next call.
  for (int dst = MessageKey::kEveryRank; dst < ctx_.world_size; ++dst) {
    Deadline now = Deadline::At(absl::InfinitePast());
    absl::Status status = PublishWithdrawal(dst, now, idle);
    if (!status.ok() && !absl::IsResourceExhausted(status)) return status;
  }
  return absl::OkStatus();
}

// -------------------------------------------------------------- reclaiming

absl::Status Publisher::Reclaim() {
  acked_.assign(ctx_.layout.acked_words(), 0);
  if (absl::Status status = ctx_.rma.LoadWords(ctx_.layout.acked_begin(),
                                               static_cast<int>(acked_.size()), acked_.data());
      !status.ok()) {
    return status;
  }
  if (absl::Status status = ReclaimCredit(); !status.ok()) return status;
  auto release_up_to = [this](OutStream& stream, uint64_t acked) {
    while (!stream.pending.empty() && stream.pending.front().slot < acked) {
      ReleaseChunk(stream.pending.front(), /*by_expiration=*/false);
      stream.pending.pop_front();
    }
  };
  for (int dst = 0; dst < ctx_.world_size; ++dst) {
    release_up_to(p2p_out_[dst], acked_[ctx_.layout.p2p_acked(dst) / 8]);
  }
  // A broadcast chunk is free once its slowest reader has it.
  uint64_t bcast_acked = std::numeric_limits<uint64_t>::max();
  for (int r = 0; r < ctx_.world_size; ++r) {
    if (r != ctx_.rank) bcast_acked = std::min(bcast_acked, acked_[ctx_.layout.bcast_acked(r) / 8]);
  }
  release_up_to(bcast_out_, bcast_acked);
  ctx_.stats.bytes_in_use = allocator_.bytes_in_use();
  return absl::OkStatus();
}

void Publisher::ReleaseChunk(PendingChunk& chunk, bool by_expiration) {
  if (!chunk.live) return;
  chunk.live = false;
  if (chunk.data_offset != Descriptor::kInline) allocator_.Free(chunk.data_offset, chunk.bytes);
  ledger_.Release(chunk.entry_id, chunk.bytes, by_expiration);
}

// -------------------------------------------------------------- expiration

absl::Status Publisher::ExpireData(absl::Time now) {
  const absl::Time cutoff = now - ctx_.options.data_expiration;
  const std::vector<uint64_t> expired = ledger_.LiveBefore(cutoff);
  if (expired.empty()) return absl::OkStatus();
  for (uint64_t entry_id : expired) ExpireChunks(entry_id, now);
  ExpireSelfMessages(cutoff, now);
  if (absl::Status status = inbox_.ExpireBefore(UnixNanos(cutoff), UnixNanos(now),
                                                [this](const PushedRecord& record) {
                                                  ledger_.Release(record.entry_id, record.bytes,
                                                                  /*by_expiration=*/true);
                                                });
      !status.ok()) {
    return status;
  }
  ctx_.rma.SyncLocalStores();
  ctx_.stats.bytes_in_use = allocator_.bytes_in_use();
  VLOG(1) << ctx_.Where() << ": expired " << expired.size() << " message(s) older than "
          << absl::FormatDuration(ctx_.options.data_expiration);
  return absl::OkStatus();
}

void Publisher::ExpireChunks(uint64_t entry_id, absl::Time now) {
  for (int dst = MessageKey::kEveryRank; dst < ctx_.world_size; ++dst) {
    for (PendingChunk& chunk : out_stream(dst).pending) {
      if (chunk.entry_id != entry_id || !chunk.live) continue;
      // Tell late readers what happened instead of leaving them waiting.
      auto* descriptor =
          reinterpret_cast<Descriptor*>(ctx_.rma.local(descriptor_offset(dst, chunk.slot)));
      Descriptor marker = *descriptor;
      marker.state = static_cast<uint64_t>(DescriptorState::kExpired);
      marker.expired_at_ns = UnixNanos(now);
      marker.Seal();
      std::memcpy(descriptor, &marker, sizeof(marker));
      ReleaseChunk(chunk, /*by_expiration=*/true);
    }
  }
}

void Publisher::ExpireSelfMessages(absl::Time cutoff, absl::Time now) {
  for (SelfMessage& message : self_queue_) {
    if (message.time >= cutoff || message.expired_at) continue;
    message.expired_at = now;
    ledger_.Release(message.entry_id, message.bytes.size(), /*by_expiration=*/true);
    std::string().swap(message.bytes);
  }
}

}  // namespace fastvideo::dist
