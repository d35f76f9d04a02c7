#include "dist/window_channel.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include <glog/logging.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dist/backoff.h"
#include "dist/hash.h"
#include "dist/mpi_error.h"
#include "dist/node_load.h"

namespace fastvideo::dist {
namespace {

constexpr uint64_t kMinDataBytes = 4096;
constexpr uint64_t kMaxChunkBytes = uint64_t{1} << 30;  // MPI counts are int

uint64_t UnixNanos(absl::Time time) {
  return static_cast<uint64_t>(absl::ToUnixNanos(time));
}

std::string FormatTime(uint64_t unix_nanos) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%E3S UTC",
                          absl::FromUnixNanos(static_cast<int64_t>(unix_nanos)),
                          absl::UTCTimeZone());
}

}  // namespace

absl::StatusOr<std::unique_ptr<WindowChannel>> WindowChannel::Create(
    MPI_Comm comm, ChannelOptions options) {
  FV_RETURN_IF_MPI_ERROR(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN));
  int world_size = 0;
  FV_RETURN_IF_MPI_ERROR(MPI_Comm_size(comm, &world_size));

  if (options.ring_slots == 0) {
    options.ring_slots = std::clamp<uint64_t>(
        options.segment_bytes / 4 / ((world_size + 1) * sizeof(Descriptor)),
        16, 1024);
  }
  // Every member must lay its segment out the same way.
  uint64_t mine[2] = {options.segment_bytes, options.ring_slots};
  uint64_t low[2], high[2];
  FV_RETURN_IF_MPI_ERROR(
      MPI_Allreduce(mine, low, 2, MPI_UINT64_T, MPI_MIN, comm));
  FV_RETURN_IF_MPI_ERROR(
      MPI_Allreduce(mine, high, 2, MPI_UINT64_T, MPI_MAX, comm));
  if (low[0] != high[0] || low[1] != high[1]) {
    return absl::InvalidArgumentError(absl::StrCat(
        "group '", options.name, "': members disagree on the window: "
        "segment_bytes from ", low[0], " to ", high[0], ", ring_slots from ",
        low[1], " to ", high[1], "; every member must pass the same options"));
  }
  if (options.data_expiration < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("group '", options.name,
                     "': data_expiration must not be negative, got ",
                     absl::FormatDuration(options.data_expiration)));
  }
  absl::StatusOr<SegmentLayout> layout =
      SegmentLayout::Create(world_size, options.ring_slots,
                            options.segment_bytes, kMinDataBytes);
  if (!layout.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "group '", options.name, "': ", layout.status().message()));
  }
  std::unique_ptr<WindowChannel> channel(
      new WindowChannel(comm, std::move(options), *layout));

  MPI_Info info;
  FV_RETURN_IF_MPI_ERROR(MPI_Info_create(&info));
  // Readers use MPI_REPLACE on ack words and the publisher MPI_NO_OP.
  MPI_Info_set(info, "accumulate_ops", "same_op_no_op");
  const int allocated = MPI_Win_allocate(
      static_cast<MPI_Aint>(layout->segment_bytes()), 1, info, comm,
      &channel->base_, &channel->window_);
  MPI_Info_free(&info);
  FV_RETURN_IF_MPI_ERROR(allocated);
  FV_RETURN_IF_MPI_ERROR(
      MPI_Win_set_errhandler(channel->window_, MPI_ERRORS_RETURN));
  absl::StatusOr<bool> oversubscribed = NodeIsOversubscribed(comm);
  if (!oversubscribed.ok()) return oversubscribed.status();
  channel->oversubscribed_ = *oversubscribed;
  int* model = nullptr;
  int has_model = 0;
  FV_RETURN_IF_MPI_ERROR(
      MPI_Win_get_attr(channel->window_, MPI_WIN_MODEL, &model, &has_model));
  channel->unified_memory_ = has_model && *model == MPI_WIN_UNIFIED;
  FV_RETURN_IF_MPI_ERROR(
      MPI_Win_lock_all(MPI_MODE_NOCHECK, channel->window_));
  std::memset(channel->base_, 0, layout->data_begin());
  FV_RETURN_IF_MPI_ERROR(MPI_Win_sync(channel->window_));
  // Nobody reads a segment before its owner has cleared it.
  FV_RETURN_IF_MPI_ERROR(MPI_Barrier(comm));
  VLOG(1) << channel->Where() << ": window of " << layout->segment_bytes()
          << " bytes per member, " << layout->data_bytes() << " for data, "
          << layout->ring_slots() << " ring slots, chunks of up to "
          << channel->max_chunk_bytes_ << " bytes, "
          << (channel->unified_memory_ ? "unified" : "separate")
          << " memory model"
          << (channel->oversubscribed_ ? ", oversubscribed node" : "");
  return channel;
}

WindowChannel::WindowChannel(MPI_Comm comm, ChannelOptions options,
                             SegmentLayout layout)
    : comm_(comm),
      options_(std::move(options)),
      layout_(layout),
      allocator_(layout.data_begin(), layout.data_bytes(),
                 SegmentLayout::kAlignment),
      max_deferred_acks_(static_cast<int>(std::clamp<uint64_t>(layout.ring_slots() / 8, 1, 16))),
      max_deferred_ack_bytes_(layout.data_bytes() / 8) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &world_size_);
  max_chunk_bytes_ = options_.max_chunk_bytes != 0
                         ? options_.max_chunk_bytes
                         : layout_.data_bytes() / 4 / SegmentLayout::kAlignment *
                               SegmentLayout::kAlignment;
  max_chunk_bytes_ = std::clamp<uint64_t>(
      max_chunk_bytes_, Descriptor::kInlineBytes,
      std::min(kMaxChunkBytes, allocator_.capacity()));
  p2p_out_.resize(world_size_);
  p2p_in_.resize(world_size_);
  bcast_in_.resize(world_size_);
}

WindowChannel::~WindowChannel() {
  absl::Status status = Close();
  LOG_IF(ERROR, !status.ok()) << Where() << ": closing failed: " << status;
}

absl::Status WindowChannel::Close() {
  if (closed_) return absl::OkStatus();
  closed_ = true;
  VLOG(1) << Where() << ": closing; sent " << stats_.objects_sent
          << " objects (" << stats_.bytes_sent << " bytes), received "
          << stats_.objects_received << " (" << stats_.bytes_received
          << " bytes), " << stats_.entries_in_use << " entries unreclaimed";
  if (window_ != MPI_WIN_NULL) {
    FV_RETURN_IF_MPI_ERROR(MPI_Win_unlock_all(window_));
    FV_RETURN_IF_MPI_ERROR(MPI_Win_free(&window_));
  }
  FV_RETURN_IF_MPI_ERROR(MPI_Comm_free(&comm_));
  return absl::OkStatus();
}

std::string WindowChannel::Where() const {
  return absl::StrCat("group '", options_.name, "' rank ", rank_, "/",
                      world_size_);
}

uint64_t WindowChannel::descriptor_offset(int dst, uint64_t slot) const {
  return dst == MessageKey::kEveryRank ? layout_.bcast_descriptor(slot)
                                       : layout_.p2p_descriptor(dst, slot);
}

uint64_t WindowChannel::incoming_descriptor(MessageKind kind, uint64_t slot) const {
  return descriptor_offset(kind == MessageKind::kSend ? rank_ : MessageKey::kEveryRank, slot);
}

uint64_t WindowChannel::incoming_acked(MessageKind kind) const {
  return kind == MessageKind::kSend ? layout_.p2p_acked(rank_) : layout_.bcast_acked(rank_);
}

MessageKey WindowChannel::incoming_key(MessageKind kind, int src) const {
  const bool p2p = kind == MessageKind::kSend;
  return MessageKey{kind, src, p2p ? rank_ : MessageKey::kEveryRank,
                    p2p ? p2p_in_[src].next_message : bcast_in_[src].next_message};
}

// ---------------------------------------------------------------- publishing

absl::Status WindowChannel::Publish(MessageKind kind, int dst,
                                    absl::string_view bytes,
                                    Deadline deadline) {
  return Publish(
      kind, dst, bytes.size(),
      [bytes](char* destination, uint64_t offset, uint64_t chunk_bytes) {
        std::memcpy(destination, bytes.data() + offset, chunk_bytes);
        return true;
      },
      deadline);
}

absl::Status WindowChannel::Publish(MessageKind kind, int dst, uint64_t size,
                                    ChunkWriter write, Deadline deadline) {
  if (closed_) return absl::FailedPreconditionError(Where() + ": closed");
  OutStream& stream = out_stream(dst);
  MessageKey key{kind, rank_, dst, stream.next_message};
  if (dst == MessageKey::kEveryRank && world_size_ == 1) {
    ++stream.next_message;  // nobody to read it
    return absl::OkStatus();
  }
  const absl::Time now = options_.clock();
  ExpireDataAt(now);
  // A message withdrawn earlier must be marked before anything follows it.
  if (absl::Status status = PublishWithdrawal(dst, deadline); !status.ok()) {
    return status;
  }

  const uint64_t entry_id = first_entry_id_ + entries_.size();
  bool entry_added = false;
  // Part of the message is out: readers must drop it, not wait for the
  // rest. The marker goes out as soon as a ring slot frees up.
  auto withdraw = [&] {
    if (!entry_added) return;
    stream.withdrawn_message = key.seq;
    ++stream.next_message;
    entries_[entry_id - first_entry_id_].open = false;
    PopFinishedEntries();
  };
  uint64_t offset = 0;
  do {
    const uint64_t chunk_bytes = std::min<uint64_t>(max_chunk_bytes_, size - offset);
    absl::StatusOr<uint64_t> block =
        WaitForRoom(dst, chunk_bytes, key, deadline);
    if (!block.ok()) {
      withdraw();
      return block.status();
    }
    Descriptor descriptor{};
    descriptor.slot_plus_one = stream.next_slot + 1;
    descriptor.kind = static_cast<uint64_t>(kind);
    descriptor.state = static_cast<uint64_t>(DescriptorState::kPublished);
    descriptor.message_seq = key.seq;
    descriptor.message_bytes = size;
    descriptor.chunk_offset = offset;
    descriptor.chunk_bytes = chunk_bytes;
    descriptor.data_offset = *block;
    descriptor.publish_time_ns = UnixNanos(now);
    if (!WriteChunk(dst, descriptor, write)) {
      if (*block != Descriptor::kInline) allocator_.Free(*block, chunk_bytes);
      withdraw();
      return absl::InternalError(absl::StrCat(
          Where(), ": ", key.ToString(), ": the object's codec did not write the ", size,
          " bytes it announced; nothing was published"));
    }
    if (!entry_added) {
      entries_.push_back({key, now, /*live_chunks=*/0, /*open=*/true});
      entry_added = true;
    }
    stream.pending.push_back(
        {stream.next_slot, *block, chunk_bytes, entry_id, true});
    if (entries_[entry_id - first_entry_id_].live_chunks++ == 0) {
      ++stats_.entries_in_use;
    }
    ++stream.next_slot;
    offset += chunk_bytes;
    stats_.peak_bytes_in_use =
        std::max(stats_.peak_bytes_in_use, allocator_.bytes_in_use());
  } while (offset < size);

  ++stream.next_message;
  ++stats_.objects_sent;
  stats_.bytes_sent += size;
  entries_[entry_id - first_entry_id_].open = false;
  PopFinishedEntries();
  VLOG(2) << Where() << ": published " << key.ToString() << " ("
          << size << " bytes)";
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> WindowChannel::WaitForRoom(int dst, uint64_t bytes,
                                                    const MessageKey& key,
                                                    Deadline& deadline) {
  OutStream& stream = out_stream(dst);
  std::vector<uint64_t>& acked = acked_;
  Backoff backoff(oversubscribed_);
  while (true) {
    if (absl::Status status = ReadAcks(&acked); !status.ok()) return status;
    const bool ring_free =
        stream.pending.empty() ||
        stream.next_slot - stream.pending.front().slot < layout_.ring_slots();
    if (ring_free) {
      if (bytes <= Descriptor::kInlineBytes) return Descriptor::kInline;
      if (std::optional<uint64_t> block = allocator_.Allocate(bytes)) {
        return *block;
      }
    }
    if (backoff.ShouldCheckClock() && deadline.Passed()) {
      const uint64_t oldest =
          stream.pending.empty() ? stream.next_slot : stream.pending.front().slot;
      return absl::ResourceExhaustedError(absl::StrCat(
          Where(), ": ", MessageKindName(key.kind), " ", key.ToString(),
          ": no room for ", bytes, " bytes before the deadline (",
          allocator_.bytes_in_use(), " of ", allocator_.capacity(),
          " data bytes in use, ", stream.next_slot - oldest, " of ",
          layout_.ring_slots(), " ring slots to ",
          dst == MessageKey::kEveryRank ? std::string("every rank")
                                        : absl::StrCat("rank ", dst),
          " in use); waiting for ", Laggards(dst, oldest, acked),
          " to read"));
    }
    if (absl::Status status = CompleteAcks(); !status.ok()) return status;
    DriveProgress();
    backoff.Pause();
  }
}

std::string WindowChannel::Laggards(int dst, uint64_t slot,
                                    const std::vector<uint64_t>& acked) const {
  std::vector<int> ranks;
  if (dst != MessageKey::kEveryRank) {
    ranks.push_back(dst);
  } else {
    for (int r = 0; r < world_size_; ++r) {
      if (r != rank_ && acked[world_size_ + r] <= slot) ranks.push_back(r);
    }
  }
  // Data space is shared by all streams: name every reader that is behind.
  for (int r = 0; r < world_size_; ++r) {
    if (!p2p_out_[r].pending.empty() &&
        std::find(ranks.begin(), ranks.end(), r) == ranks.end()) {
      ranks.push_back(r);
    }
  }
  return ranks.empty() ? std::string("no rank (the segment is too small)")
                       : absl::StrCat("rank(s) ", absl::StrJoin(ranks, ", "));
}

bool WindowChannel::WriteChunk(int dst, const Descriptor& descriptor,
                               ChunkWriter write) {
  Descriptor sealed = descriptor;
  char* destination = sealed.data_offset == Descriptor::kInline
                          ? reinterpret_cast<char*>(sealed.inline_data)
                          : reinterpret_cast<char*>(local(sealed.data_offset));
  // (memcpy must not see the null data() of an empty chunk.)
  if (sealed.chunk_bytes > 0 &&
      !write(destination, sealed.chunk_offset, sealed.chunk_bytes)) {
    return false;
  }
  if (options_.verify_payloads) {
    sealed.payload_hash = Hash64(destination, sealed.chunk_bytes);
  }
  sealed.Seal();
  // Data in the data area must reach the window's public copy before the
  // descriptor that points at it. Inline data needs no such order: the
  // seal covers it, and a reader that sees a half-written descriptor fails
  // the seal and reads again. (MPI_Win_sync also runs osc/rdma's progress
  // engine, which yields the core on an oversubscribed node: small
  // messages skip it.)
  if (sealed.data_offset != Descriptor::kInline) MPI_Win_sync(window_);
  std::atomic_thread_fence(std::memory_order_release);
  std::memcpy(local(descriptor_offset(dst, descriptor.slot_plus_one - 1)),
              &sealed, sizeof(sealed));
  // In the unified model a store reaches remote MPI_Gets without further
  // calls (MPI-3.1, 11.4); the separate model needs a sync.
  if (!unified_memory_) MPI_Win_sync(window_);
  return true;
}

absl::Status WindowChannel::PublishWithdrawal(int dst, Deadline& deadline) {
  OutStream& stream = out_stream(dst);
  if (!stream.withdrawn_message) return absl::OkStatus();
  const MessageKey key{MessageKind::kSend, rank_, dst, *stream.withdrawn_message};
  absl::StatusOr<uint64_t> slot = WaitForRoom(dst, 0, key, deadline);
  if (!slot.ok()) return slot.status();
  Descriptor marker{};
  marker.slot_plus_one = stream.next_slot + 1;
  marker.state = static_cast<uint64_t>(DescriptorState::kWithdrawn);
  marker.message_seq = *stream.withdrawn_message;
  marker.data_offset = Descriptor::kInline;
  marker.publish_time_ns = UnixNanos(options_.clock());
  WriteChunk(dst, marker, [](char*, uint64_t, uint64_t) { return true; });
  // Not live: nothing to free, but it holds its ring slot until read.
  stream.pending.push_back(
      {stream.next_slot, Descriptor::kInline, 0, /*entry_id=*/0, false});
  ++stream.next_slot;
  stream.withdrawn_message.reset();
  return absl::OkStatus();
}

// --------------------------------------------------------------- reclaiming

absl::Status WindowChannel::ReadAcks(std::vector<uint64_t>* acked) {
  acked->assign(layout_.acked_words(), 0);
  if (absl::Status status =
          ReadLocalWords(layout_.acked_begin(),
                         static_cast<int>(acked->size()), acked->data());
      !status.ok()) {
    return status;
  }

  for (int dst = 0; dst < world_size_; ++dst) {
    OutStream& stream = p2p_out_[dst];
    while (!stream.pending.empty() &&
           stream.pending.front().slot < (*acked)[layout_.p2p_acked(dst) / 8]) {
      Release(stream.pending.front(), /*by_expiration=*/false);
      stream.pending.pop_front();
    }
  }
  uint64_t bcast_acked = std::numeric_limits<uint64_t>::max();
  for (int r = 0; r < world_size_; ++r) {
    if (r != rank_) {
      bcast_acked =
          std::min(bcast_acked, (*acked)[layout_.bcast_acked(r) / 8]);
    }
  }
  while (!bcast_out_.pending.empty() &&
         bcast_out_.pending.front().slot < bcast_acked) {
    Release(bcast_out_.pending.front(), /*by_expiration=*/false);
    bcast_out_.pending.pop_front();
  }
  PopFinishedEntries();
  return absl::OkStatus();
}

void WindowChannel::Release(PendingChunk& chunk, bool by_expiration) {
  if (!chunk.live) return;
  chunk.live = false;
  if (chunk.data_offset != Descriptor::kInline) {
    allocator_.Free(chunk.data_offset, chunk.bytes);
  }
  if (by_expiration) {
    ++stats_.reclaimed_by_expiration;
    stats_.reclaimed_bytes_by_expiration += chunk.bytes;
  } else {
    ++stats_.reclaimed_by_ack;
    stats_.reclaimed_bytes_by_ack += chunk.bytes;
  }
  if (--entries_[chunk.entry_id - first_entry_id_].live_chunks == 0) {
    --stats_.entries_in_use;
  }
}

void WindowChannel::PopFinishedEntries() {
  while (!entries_.empty() && entries_.front().live_chunks == 0 &&
         !entries_.front().open) {
    entries_.pop_front();
    ++first_entry_id_;
  }
  stats_.bytes_in_use = allocator_.bytes_in_use();
}

absl::Status WindowChannel::Progress() {
  if (closed_) return absl::FailedPreconditionError(Where() + ": closed");
  if (absl::Status status = CompleteAcks(); !status.ok()) return status;
  DriveProgress();
  if (absl::Status status = ReadAcks(&acked_); !status.ok()) return status;
  // Markers that still find no room wait for the next call.
  for (int dst = MessageKey::kEveryRank; dst < world_size_; ++dst) {
    Deadline now = Deadline::At(absl::InfinitePast());
    absl::Status status = PublishWithdrawal(dst, now);
    if (!status.ok() && !absl::IsResourceExhausted(status)) return status;
  }
  return absl::OkStatus();
}

absl::Status WindowChannel::ExpireData() {
  if (closed_) return absl::FailedPreconditionError(Where() + ": closed");
  ExpireDataAt(options_.clock());
  return absl::OkStatus();
}

void WindowChannel::ExpireDataAt(absl::Time now) {
  const absl::Time cutoff = now - options_.data_expiration;
  uint64_t expired_entries = 0;
  for (uint64_t i = 0; i < entries_.size() && entries_[i].time < cutoff; ++i) {
    if (entries_[i].live_chunks == 0) continue;
    const uint64_t entry_id = first_entry_id_ + i;
    ++expired_entries;
    for (int dst = MessageKey::kEveryRank; dst < world_size_; ++dst) {
      for (PendingChunk& chunk : out_stream(dst).pending) {
        if (chunk.entry_id != entry_id || !chunk.live) continue;
        // Tell late readers what happened instead of leaving them waiting.
        auto* descriptor =
            reinterpret_cast<Descriptor*>(local(descriptor_offset(dst, chunk.slot)));
        Descriptor marker = *descriptor;
        marker.state = static_cast<uint64_t>(DescriptorState::kExpired);
        marker.expired_at_ns = UnixNanos(now);
        marker.Seal();
        std::memcpy(descriptor, &marker, sizeof(marker));
        Release(chunk, /*by_expiration=*/true);
      }
    }
  }
  if (expired_entries > 0) {
    MPI_Win_sync(window_);
    PopFinishedEntries();
    VLOG(1) << Where() << ": expired " << expired_entries
            << " message(s) older than "
            << absl::FormatDuration(options_.data_expiration);
  }
}

std::vector<std::pair<std::string, absl::Time>> WindowChannel::entries() const {
  std::vector<std::pair<std::string, absl::Time>> live;
  for (const Entry& entry : entries_) {
    if (entry.live_chunks > 0) live.emplace_back(entry.key.ToString(), entry.time);
  }
  return live;
}

// ------------------------------------------------------------------ reading

absl::Status WindowChannel::Fetch(MessageKind kind, int src,
                                  Deadline deadline, std::string* out,
                                  InPlaceReader* in_place, bool* read_in_place) {
  if (read_in_place != nullptr) *read_in_place = false;
  if (closed_) return absl::FailedPreconditionError(Where() + ": closed");
  InStream& stream = in_stream(kind, src);
  const uint64_t ack_offset = incoming_acked(kind);

  std::string& message = *out;
  message.clear();
  // A chunk the publisher expired, and the first chunk whose hash did not
  // match. (Plain fields: GCC 12 at -O2 warns falsely about std::optional.)
  bool expired = false;
  uint64_t published_ns = 0, expired_ns = 0;
  bool corrupt = false;
  uint64_t corrupt_at = 0;
  uint64_t next_offset = 0;
  while (true) {
    const MessageKey key = incoming_key(kind, src);
    Descriptor descriptor;
    if (stream.awaited) {
      descriptor = *std::exchange(stream.awaited, std::nullopt);
    } else if (absl::Status status =
                   WaitForDescriptor(src, incoming_descriptor(kind, stream.next_slot),
                                     stream.next_slot, key, deadline, &descriptor);
               !status.ok()) {
      return status;
    }
    const auto state = static_cast<DescriptorState>(descriptor.state);
    if (state == DescriptorState::kWithdrawn) {
      // The publisher gave up on a message we may have partly read.
      if (absl::Status status =
              Acknowledge(src, ack_offset, stream.next_slot + 1, /*frees_bytes=*/0);
          !status.ok()) {
        return status;
      }
      ++stream.next_slot;
      ++stream.next_message;
      message.clear();
      expired = false;
      corrupt = false;
      next_offset = 0;
      continue;
    }
    if (absl::Status status = CheckChunk(descriptor, layout_, stream.next_message,
                                         next_offset, message.size());
        !status.ok()) {
      return absl::DataLossError(absl::StrCat(Where(), ": ", key.ToString(),
                                              " from rank ", src, ": ",
                                              status.message()));
    }
    if (static_cast<MessageKind>(descriptor.kind) != kind) {
      return absl::FailedPreconditionError(absl::StrCat(
          Where(), ": expected ", MessageKindName(kind), " ", key.ToString(),
          " from rank ", src, " but rank ", src, " published ",
          MessageKindName(static_cast<MessageKind>(descriptor.kind)),
          " there: the ranks do not make the same calls in the same order"));
    }
    if (in_place != nullptr && next_offset == 0 && descriptor.IsLastChunk() &&
        state == DescriptorState::kPublished &&
        descriptor.data_offset != Descriptor::kInline &&
        descriptor.chunk_bytes >= kInPlaceBytes && !options_.verify_payloads) {
      return FetchInPlace(kind, src, descriptor, stream, out, in_place, read_in_place);
    }
    if (next_offset == 0) message.resize(descriptor.message_bytes);
    char* destination = message.data() + descriptor.chunk_offset;
    if (state == DescriptorState::kExpired) {
      expired = true;
      published_ns = descriptor.publish_time_ns;
      expired_ns = descriptor.expired_at_ns;
    } else if (descriptor.data_offset == Descriptor::kInline) {
      std::memcpy(destination, descriptor.inline_data, descriptor.chunk_bytes);
    } else {
      FV_RETURN_IF_MPI_ERROR(
          MPI_Get(destination, static_cast<int>(descriptor.chunk_bytes),
                  MPI_BYTE, src, static_cast<MPI_Aint>(descriptor.data_offset),
                  static_cast<int>(descriptor.chunk_bytes), MPI_BYTE, window_));
      FV_RETURN_IF_MPI_ERROR(MPI_Win_flush_local(src, window_));
    }
    if (state != DescriptorState::kExpired &&
        descriptor.data_offset != Descriptor::kInline) {
      absl::StatusOr<bool> expired_meanwhile = ExpiredWhileRead(
          src, incoming_descriptor(kind, stream.next_slot), descriptor, &expired_ns);
      if (!expired_meanwhile.ok()) return expired_meanwhile.status();
      if (*expired_meanwhile) {
        expired = true;
        published_ns = descriptor.publish_time_ns;
      }
    }
    if (!expired && options_.verify_payloads &&
        Hash64(destination, descriptor.chunk_bytes) != descriptor.payload_hash &&
        !corrupt) {
      corrupt = true;
      corrupt_at = descriptor.chunk_offset;
    }
    // Every chunk is consumed, good or bad, so the stream stays in step.
    if (absl::Status status =
            Acknowledge(src, ack_offset, stream.next_slot + 1,
                        /*frees_bytes=*/descriptor.data_offset == Descriptor::kInline
                            ? 0
                            : descriptor.chunk_bytes);
        !status.ok()) {
      return status;
    }
    ++stream.next_slot;
    next_offset += descriptor.chunk_bytes;
    if (descriptor.IsLastChunk()) break;
  }

  const MessageKey key = incoming_key(kind, src);
  ++stream.next_message;
  if (expired) return ExpiredError(key, published_ns, expired_ns);
  if (corrupt) {
    return absl::DataLossError(absl::StrCat(
        Where(), ": ", key.ToString(), " from rank ", src, ": ",
        message.size(), "-byte message corrupt: the chunk at byte ",
        corrupt_at, " does not match its hash"));
  }
  ++stats_.objects_received;
  stats_.bytes_received += message.size();
  return absl::OkStatus();
}

namespace {

// A chunk in a publisher's segment, read with MPI_Get as a decoder asks.
class WindowBytes final : public ByteSource {
 public:
  WindowBytes(MPI_Win window, int rank, uint64_t data_offset)
      : window_(window), rank_(rank), data_offset_(data_offset) {}

  absl::Status Read(uint64_t offset, void* destination, size_t size) override {
    // A chunk is at most kMaxChunkBytes: the count fits in an int.
    FV_RETURN_IF_MPI_ERROR(MPI_Get(destination, static_cast<int>(size), MPI_BYTE, rank_,
                                   static_cast<MPI_Aint>(data_offset_ + offset),
                                   static_cast<int>(size), MPI_BYTE, window_));
    FV_RETURN_IF_MPI_ERROR(MPI_Win_flush_local(rank_, window_));
    return absl::OkStatus();
  }

 private:
  MPI_Win window_;
  int rank_;
  uint64_t data_offset_;
};

// The first bytes of a message read in place come in one MPI_Get with
// what usually follows them (a frame and a codec's header).
constexpr uint64_t kInPlacePrefixBytes = 4096;

}  // namespace

absl::Status WindowChannel::FetchInPlace(MessageKind kind, int src,
                                         const Descriptor& descriptor, InStream& stream,
                                         std::string* message, InPlaceReader* in_place,
                                         bool* read_in_place) {
  const MessageKey key = incoming_key(kind, src);
  const uint64_t descriptor_at = incoming_descriptor(kind, stream.next_slot);
  WindowBytes chunk(window_, src, descriptor.data_offset);
  message->resize(std::min(descriptor.chunk_bytes, kInPlacePrefixBytes));
  if (absl::Status status = chunk.Read(0, message->data(), message->size()); !status.ok()) {
    return status;
  }
  absl::Status status = in_place->Read(*message, descriptor.chunk_bytes, chunk);
  uint64_t expired_ns = 0;
  absl::StatusOr<bool> expired = ExpiredWhileRead(src, descriptor_at, descriptor, &expired_ns);
  if (!expired.ok()) return expired.status();
  if (!*expired && absl::IsInvalidArgument(status)) {
    // Asked for as the wrong type: the caller keeps it for the next receive.
    message->resize(descriptor.chunk_bytes);
    if (absl::Status copied = chunk.Read(0, message->data(), message->size()); !copied.ok()) {
      return copied;
    }
    status = absl::OkStatus();
  } else if (!*expired) {
    *read_in_place = true;
  }
  if (absl::Status acked =
          Acknowledge(src, incoming_acked(kind), stream.next_slot + 1,
                      /*frees_bytes=*/descriptor.chunk_bytes);
      !acked.ok()) {
    return acked;
  }
  ++stream.next_slot;
  ++stream.next_message;
  if (*expired) return ExpiredError(key, descriptor.publish_time_ns, expired_ns);
  if (status.ok()) {
    ++stats_.objects_received;
    stats_.bytes_received += descriptor.chunk_bytes;
    if (*read_in_place) ++stats_.objects_read_in_place;
  }
  return status;
}

absl::StatusOr<bool> WindowChannel::ExpiredWhileRead(int src, uint64_t descriptor_offset,
                                                     const Descriptor& descriptor,
                                                     uint64_t* expired_ns) {
  // The publisher marks a descriptor expired before it frees (and may
  // reuse) the chunk: if it is still published after the read, what we
  // read was the chunk's own bytes.
  const absl::Duration age =
      options_.clock() - absl::FromUnixNanos(static_cast<int64_t>(descriptor.publish_time_ns));
  if (age <= options_.data_expiration / 2) return false;
  Descriptor after;
  FV_RETURN_IF_MPI_ERROR(MPI_Get(&after, sizeof(after), MPI_BYTE, src,
                                 static_cast<MPI_Aint>(descriptor_offset), sizeof(after),
                                 MPI_BYTE, window_));
  FV_RETURN_IF_MPI_ERROR(MPI_Win_flush_local(src, window_));
  if (after.descriptor_hash == descriptor.descriptor_hash) return false;
  *expired_ns = after.expired_at_ns;
  return true;
}

absl::Status WindowChannel::ExpiredError(const MessageKey& key, uint64_t published_ns,
                                         uint64_t expired_ns) const {
  return absl::NotFoundError(absl::StrCat(
      Where(), ": ", key.ToString(), " from rank ", key.src,
      " expired before it was read: published at ", FormatTime(published_ns),
      ", expired at ", FormatTime(expired_ns), " (data_expiration ",
      absl::FormatDuration(options_.data_expiration), " at rank ", key.src, "'s side)"));
}

absl::Status WindowChannel::WaitForDescriptor(int src, uint64_t offset,
                                              uint64_t slot,
                                              const MessageKey& key,
                                              Deadline& deadline,
                                              Descriptor* descriptor) {
  Backoff backoff(oversubscribed_);
  while (true) {
    FV_RETURN_IF_MPI_ERROR(MPI_Get(descriptor, sizeof(Descriptor), MPI_BYTE,
                                   src, static_cast<MPI_Aint>(offset),
                                   sizeof(Descriptor), MPI_BYTE, window_));
    // Reads complete locally (MPI_Win_flush_local): a get is done once its
    // data is here, and a full flush costs osc/pt2pt one more message.
    FV_RETURN_IF_MPI_ERROR(MPI_Win_flush_local(src, window_));
    absl::StatusOr<Arrival> arrival = CheckArrival(*descriptor, slot, src, key);
    if (!arrival.ok()) return arrival.status();
    if (*arrival == Arrival::kArrived) return absl::OkStatus();
    if (absl::Status status = CompleteAcks(); !status.ok()) return status;
    if (backoff.ShouldCheckClock() && deadline.Passed()) {
      return NothingPublishedError(key, src, /*also_silent=*/"");
    }
    backoff.Pause();
  }
}

absl::Status WindowChannel::AwaitPublished(MessageKind kind, absl::Span<const int> srcs,
                                           Deadline deadline) {
  if (closed_) return absl::FailedPreconditionError(Where() + ": closed");
  struct Poll {
    int src;
    Descriptor descriptor;
  };
  std::vector<Poll> silent;
  for (int src : srcs) {
    if (!in_stream(kind, src).awaited) silent.push_back({src, Descriptor{}});
  }
  Backoff backoff(oversubscribed_);
  while (!silent.empty()) {
    // Every read is on its way before one call waits for them all, so the
    // round trips overlap. A get is done once its data is here: local
    // completion is enough, and one call runs MPI's progress engine (which
    // yields the core on an oversubscribed node) once, not once per source.
    for (Poll& poll : silent) {
      const uint64_t offset = incoming_descriptor(kind, in_stream(kind, poll.src).next_slot);
      FV_RETURN_IF_MPI_ERROR(MPI_Get(&poll.descriptor, sizeof(Descriptor), MPI_BYTE,
                                     poll.src, static_cast<MPI_Aint>(offset),
                                     sizeof(Descriptor), MPI_BYTE, window_));
    }
    FV_RETURN_IF_MPI_ERROR(MPI_Win_flush_local_all(window_));
    bool another_kind = false;
    auto still_silent = silent.begin();
    for (const Poll& poll : silent) {
      InStream& stream = in_stream(kind, poll.src);
      absl::StatusOr<Arrival> arrival =
          CheckArrival(poll.descriptor, stream.next_slot, poll.src, incoming_key(kind, poll.src));
      if (!arrival.ok()) return arrival.status();
      if (*arrival == Arrival::kArrived) {
        stream.awaited = poll.descriptor;
        another_kind |= static_cast<MessageKind>(poll.descriptor.kind) != kind;
      } else {
        *still_silent++ = poll;
      }
    }
    silent.erase(still_silent, silent.end());
    if (silent.empty() || another_kind) break;
    if (absl::Status status = CompleteAcks(); !status.ok()) return status;
    if (backoff.ShouldCheckClock() && deadline.Passed()) {
      std::string others;
      if (silent.size() > 1) {
        others = absl::StrCat(
            silent.size() == 2 ? "rank " : "ranks ",
            absl::StrJoin(silent.begin() + 1, silent.end(), ", ",
                          [](std::string* out, const Poll& poll) {
                            absl::StrAppend(out, poll.src);
                          }));
      }
      return NothingPublishedError(incoming_key(kind, silent[0].src), silent[0].src, others);
    }
    backoff.Pause();
  }
  return absl::OkStatus();
}

absl::StatusOr<WindowChannel::Arrival> WindowChannel::CheckArrival(
    const Descriptor& descriptor, uint64_t slot, int src, const MessageKey& key) const {
  // Not there yet: the slot still holds an older descriptor (checked first,
  // as it is cheap). A descriptor read while its owner rewrote it fails the
  // seal: read it again.
  const bool sealed = descriptor.slot_plus_one >= slot + 1 && descriptor.IsSealed();
  if (sealed && descriptor.slot_plus_one == slot + 1) return Arrival::kArrived;
  if (sealed && descriptor.slot_plus_one > slot + 1) {
    return absl::InternalError(absl::StrCat(
        Where(), ": ", key.ToString(), " from rank ", src, ": slot ", slot,
        " was overwritten by slot ", descriptor.slot_plus_one - 1, " before it was read"));
  }
  return Arrival::kNotYet;
}

absl::Status WindowChannel::NothingPublishedError(const MessageKey& key, int src,
                                                  absl::string_view also_silent) const {
  return absl::DeadlineExceededError(absl::StrCat(
      Where(), ": timed out waiting for ", MessageKindName(key.kind), " ", key.ToString(),
      " from rank ", src, " (nothing published there yet",
      also_silent.empty() ? "" : absl::StrCat("; nor by ", also_silent), ")"));
}

absl::Status WindowChannel::Acknowledge(int src, uint64_t ack_offset,
                                        uint64_t value, uint64_t frees_bytes) {
  FV_RETURN_IF_MPI_ERROR(MPI_Accumulate(
      &value, 1, MPI_UINT64_T, src, static_cast<MPI_Aint>(ack_offset), 1,
      MPI_UINT64_T, MPI_REPLACE, window_));
  if (frees_bytes > kMaxDeferredAckChunkBytes) {
    // Completes the ack at the publisher, so it can reuse the space at once.
    FV_RETURN_IF_MPI_ERROR(MPI_Win_flush(src, window_));
    return absl::OkStatus();
  }
  // Completing an ack (MPI_Win_flush) runs MPI's progress engine, which
  // yields the core on an oversubscribed node: one that frees a ring slot
  // and little data is completed when this rank next waits instead, off
  // the path between receiving a message and answering it.
  ++deferred_acks_;
  deferred_ack_bytes_ += frees_bytes;
  if (deferred_acks_ >= max_deferred_acks_ || deferred_ack_bytes_ > max_deferred_ack_bytes_) {
    return CompleteAcks();
  }
  return absl::OkStatus();
}

absl::Status WindowChannel::CompleteAcks() {
  if (deferred_acks_ == 0) return absl::OkStatus();
  deferred_acks_ = 0;
  deferred_ack_bytes_ = 0;
  FV_RETURN_IF_MPI_ERROR(MPI_Win_flush_all(window_));
  return absl::OkStatus();
}

// ------------------------------------------------------------------ barrier

absl::Status WindowChannel::ReadLocalWords(uint64_t offset, int count,
                                           uint64_t* values) {
  if (unified_memory_) {
    // Public and private copies are one, and peers' accumulates become
    // visible to local loads without further RMA calls (MPI-3.1, 11.4);
    // acquire loads keep what follows after them. (MPI_Win_sync would add
    // nothing here but, in osc/rdma, a run of the progress engine that
    // yields the core on an oversubscribed node; waiting loops drive
    // progress themselves.)
    const auto* words = reinterpret_cast<const uint64_t*>(local(offset));
    for (int i = 0; i < count; ++i) {
      values[i] = __atomic_load_n(&words[i], __ATOMIC_ACQUIRE);
    }
    return absl::OkStatus();
  }
  FV_RETURN_IF_MPI_ERROR(MPI_Get_accumulate(
      nullptr, 0, MPI_UINT64_T, values, count, MPI_UINT64_T, rank_,
      static_cast<MPI_Aint>(offset), count, MPI_UINT64_T, MPI_NO_OP, window_));
  FV_RETURN_IF_MPI_ERROR(MPI_Win_flush(rank_, window_));
  return absl::OkStatus();
}

void WindowChannel::DriveProgress() {
  int flag = 0;
  MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_, &flag, MPI_STATUS_IGNORE);
}

absl::Status WindowChannel::Barrier(Deadline deadline) {
  if (closed_) return absl::FailedPreconditionError(Where() + ": closed");
  // Whatever this rank read before the barrier is acknowledged after it.
  if (absl::Status status = CompleteAcks(); !status.ok()) return status;
  const uint64_t epoch = ++barrier_epoch_;
  const uint64_t one = 1;
  int round = 0;
  for (int distance = 1; distance < world_size_; distance *= 2, ++round) {
    const int to = (rank_ + distance) % world_size_;
    const int from = (rank_ - distance + world_size_) % world_size_;
    FV_RETURN_IF_MPI_ERROR(MPI_Accumulate(
        &one, 1, MPI_UINT64_T, to, static_cast<MPI_Aint>(layout_.barrier(round)),
        1, MPI_UINT64_T, MPI_SUM, window_));
    FV_RETURN_IF_MPI_ERROR(MPI_Win_flush(to, window_));
    Backoff backoff(oversubscribed_);
    uint64_t arrivals = 0;
    while (true) {
      if (absl::Status status =
              ReadLocalWords(layout_.barrier(round), 1, &arrivals);
          !status.ok()) {
        return status;
      }
      if (arrivals >= epoch) break;
      if (backoff.ShouldCheckClock() && deadline.Passed()) {
        return absl::DeadlineExceededError(absl::StrCat(
            Where(), ": barrier #", epoch - 1, " timed out in round ", round,
            " waiting for rank ", from, " to arrive"));
      }
      DriveProgress();
      backoff.Pause();
    }
  }
  return absl::OkStatus();
}

}  // namespace fastvideo::dist
