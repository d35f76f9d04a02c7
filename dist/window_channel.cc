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
  // The communicator is ours from here on, whatever happens.
  auto free_comm = [&comm](absl::Status status) {
    MPI_Comm_free(&comm);
    return status;
  };
  if (int code = MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN); code != MPI_SUCCESS) {
    return free_comm(MpiStatus(code, "MPI_Comm_set_errhandler"));
  }
  int world_size = 0;
  MPI_Comm_size(comm, &world_size);

  if (options.ring_slots == 0) {
    options.ring_slots = std::clamp<uint64_t>(
        options.segment_bytes / 4 / ((world_size + 1) * sizeof(Descriptor)),
        16, 1024);
  }
  // Every member must lay its segment out the same way.
  uint64_t mine[4] = {options.segment_bytes, options.ring_slots, options.inbox.slots,
                      options.inbox.slot_bytes};
  uint64_t low[4], high[4];
  if (int code = MPI_Allreduce(mine, low, 4, MPI_UINT64_T, MPI_MIN, comm);
      code != MPI_SUCCESS) {
    return free_comm(MpiStatus(code, "MPI_Allreduce"));
  }
  if (int code = MPI_Allreduce(mine, high, 4, MPI_UINT64_T, MPI_MAX, comm);
      code != MPI_SUCCESS) {
    return free_comm(MpiStatus(code, "MPI_Allreduce"));
  }
  if (!std::equal(low, low + 4, high)) {
    return free_comm(absl::InvalidArgumentError(absl::StrCat(
        "group '", options.name, "': members disagree on the window: "
        "segment_bytes from ", low[0], " to ", high[0], ", ring_slots from ",
        low[1], " to ", high[1], ", inbox slots from ", low[2], " to ", high[2],
        ", inbox slot bytes from ", low[3], " to ", high[3],
        "; every member must pass the same options")));
  }
  if (options.data_expiration < absl::ZeroDuration()) {
    return free_comm(absl::InvalidArgumentError(
        absl::StrCat("group '", options.name,
                     "': data_expiration must not be negative, got ",
                     absl::FormatDuration(options.data_expiration))));
  }
  absl::StatusOr<SegmentLayout> layout =
      SegmentLayout::Create(world_size, options.ring_slots,
                            options.segment_bytes, kMinDataBytes, options.inbox);
  if (!layout.ok()) {
    return free_comm(absl::InvalidArgumentError(absl::StrCat(
        "group '", options.name, "': ", layout.status().message())));
  }
  // From here the channel owns the communicator: a failure closes it.
  std::unique_ptr<WindowChannel> channel(
      new WindowChannel(comm, std::move(options), *layout));
  if (absl::Status status = channel->OpenWindow(); !status.ok()) return status;
  VLOG(1) << channel->Where() << ": window of " << layout->segment_bytes()
          << " bytes per member, " << layout->data_bytes() << " for data, "
          << layout->ring_slots() << " ring slots, inboxes of " << layout->inbox().slots
          << " x " << layout->inbox().slot_bytes << " bytes, chunks of up to "
          << channel->max_chunk_bytes_ << " bytes, "
          << (channel->rma_->unified() ? "unified" : "separate") << " memory model"
          << (channel->oversubscribed_ ? ", oversubscribed node" : "");
  return channel;
}

absl::Status WindowChannel::OpenWindow() {
  MPI_Info info;
  FV_RETURN_IF_MPI_ERROR(MPI_Info_create(&info));
  // Readers use MPI_REPLACE on ack and credit words, writers on notices,
  // partners MPI_SUM on barrier words, owners MPI_NO_OP: one op per word.
  MPI_Info_set(info, "accumulate_ops", "same_op_no_op");
  const int allocated = MPI_Win_allocate(static_cast<MPI_Aint>(layout_.segment_bytes()), 1,
                                         info, comm_, &base_, &window_);
  MPI_Info_free(&info);
  FV_RETURN_IF_MPI_ERROR(allocated);
  FV_RETURN_IF_MPI_ERROR(MPI_Win_set_errhandler(window_, MPI_ERRORS_RETURN));
  absl::StatusOr<bool> oversubscribed = NodeIsOversubscribed(comm_);
  if (!oversubscribed.ok()) return oversubscribed.status();
  oversubscribed_ = *oversubscribed;
  int* model = nullptr;
  int has_model = 0;
  FV_RETURN_IF_MPI_ERROR(MPI_Win_get_attr(window_, MPI_WIN_MODEL, &model, &has_model));
  FV_RETURN_IF_MPI_ERROR(MPI_Win_lock_all(MPI_MODE_NOCHECK, window_));
  window_locked_ = true;
  rma_ = std::make_unique<MpiRma>(window_, base_, rank_, has_model && *model == MPI_WIN_UNIFIED);
  inbox_out_ = std::make_unique<InboxWriter>(*rma_, layout_);
  inbox_in_ = std::make_unique<InboxReader>(*rma_, layout_);
  std::memset(base_, 0, layout_.data_begin());
  rma_->SyncLocalStores();
  // Nobody reads or writes a segment before its owner has cleared it.
  FV_RETURN_IF_MPI_ERROR(MPI_Barrier(comm_));
  return absl::OkStatus();
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
  // Undo what OpenWindow did, all of it even when a step fails.
  absl::Status status;
  if (window_locked_) status.Update(MpiStatus(MPI_Win_unlock_all(window_), "MPI_Win_unlock_all"));
  if (window_ != MPI_WIN_NULL) status.Update(MpiStatus(MPI_Win_free(&window_), "MPI_Win_free"));
  if (comm_ != MPI_COMM_NULL) status.Update(MpiStatus(MPI_Comm_free(&comm_), "MPI_Comm_free"));
  return status;
}

std::string WindowChannel::Where() const {
  std::string where = absl::StrCat("group '", options_.name, "' rank ", rank_, "/", world_size_);
  if (rank_ < static_cast<int>(options_.parent_ranks.size()) &&
      options_.parent_ranks[rank_] != rank_) {
    absl::StrAppend(&where, " (parent rank ", options_.parent_ranks[rank_], ")");
  }
  return where;
}

std::string WindowChannel::RankName(int rank) const {
  if (rank >= 0 && rank < static_cast<int>(options_.parent_ranks.size()) &&
      options_.parent_ranks[rank] != rank) {
    return absl::StrCat("rank ", rank, " (parent rank ", options_.parent_ranks[rank], ")");
  }
  return absl::StrCat("rank ", rank);
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
  if (absl::Status status = ExpireDataAt(now); !status.ok()) return status;
  if (dst == rank_) return PublishToSelf(key, size, write, now);
  // A message withdrawn earlier must be marked before anything follows it.
  if (absl::Status status = PublishWithdrawal(dst, deadline); !status.ok()) {
    return status;
  }
  absl::StatusOr<bool> pushed = TryPush(key, size, write, now);
  if (!pushed.ok() || *pushed) return pushed.status();
  if (size <= inbox_out_->max_payload_bytes()) ++stats_.objects_sent_pulled_for_credit;

  const uint64_t entry_id = first_entry_id_ + entries_.size();
  bool entry_added = false;
  // Part of the message is out: readers must drop it, not wait for the
  // rest. The marker goes out as soon as a ring slot frees up.
  auto withdraw = [&] {
    if (!entry_added) return;
    stream.withdrawn_message = key.seq;
    stream.withdrawn_kind = key.kind;
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
      AddEntry(key, now);
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
    if (absl::Status status = NotifyReaders(dst, stream.next_slot); !status.ok()) return status;
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

uint64_t WindowChannel::AddEntry(const MessageKey& key, absl::Time now) {
  entries_.push_back({key, now, /*live_chunks=*/0, /*open=*/true});
  return first_entry_id_ + entries_.size() - 1;
}

absl::StatusOr<bool> WindowChannel::TryPush(const MessageKey& key, uint64_t size,
                                            ChunkWriter write, absl::Time now) {
  if (size > inbox_out_->max_payload_bytes()) return false;
  const InboxStream inbox = InboxStreamOf(key.kind);
  // A message goes one way to all its readers: pushed only if each has room.
  // Credit is read from memory when it seems short, and at least every half
  // inbox, so that consumed records are reclaimed as the writer goes.
  const auto released = [this](const PushedRecord& record) {
    ReleaseRecord(record, /*by_expiration=*/false);
  };
  readers_.clear();
  for (int r = 0; r < world_size_; ++r) {
    if (r != rank_ && (key.dst == MessageKey::kEveryRank || r == key.dst)) readers_.push_back(r);
  }
  for (int r : readers_) {
    if (!inbox_out_->HasCredit(r, inbox) ||
        inbox_out_->unacknowledged(r, inbox) >= layout_.inbox().slots / 2) {
      if (absl::Status status = inbox_out_->Refresh(r, inbox, released); !status.ok()) {
        return status;
      }
      PopFinishedEntries();
    }
    if (!inbox_out_->HasCredit(r, inbox)) return false;
  }
  // Encoded once, straight into the record, whatever the number of readers.
  const uint64_t entry_id = first_entry_id_ + entries_.size();
  absl::StatusOr<bool> pushed = inbox_out_->Push(
      readers_, inbox, key.kind, key.seq, UnixNanos(now), size, entry_id,
      [write, size](char* to) { return write(to, 0, size); });
  if (!pushed.ok()) return pushed.status();
  if (!*pushed) {
    return absl::InternalError(absl::StrCat(
        Where(), ": ", key.ToString(), ": the object's codec did not write the ", size,
        " bytes it announced; nothing was published"));
  }
  AddEntry(key, now);
  entries_.back().live_chunks = readers_.size();
  entries_.back().open = false;
  ++stats_.entries_in_use;
  ++out_stream(key.dst).next_message;
  ++stats_.objects_sent;
  ++stats_.objects_sent_pushed;
  stats_.bytes_sent += size;
  VLOG(2) << Where() << ": pushed " << key.ToString() << " (" << size << " bytes)";
  return true;
}

absl::Status WindowChannel::PublishToSelf(const MessageKey& key, uint64_t size,
                                          ChunkWriter write, absl::Time now) {
  std::string bytes(size, '\0');
  // The writer's contract: chunks of at most max_chunk_bytes, in order.
  for (uint64_t offset = 0; offset < size; offset += max_chunk_bytes_) {
    const uint64_t chunk_bytes = std::min(max_chunk_bytes_, size - offset);
    if (!write(bytes.data() + offset, offset, chunk_bytes)) {
      return absl::InternalError(absl::StrCat(
          Where(), ": ", key.ToString(), ": the object's codec did not write the ", size,
          " bytes it announced; nothing was published"));
    }
  }
  const uint64_t entry_id = AddEntry(key, now);
  entries_.back().live_chunks = 1;
  entries_.back().open = false;
  ++stats_.entries_in_use;
  self_queue_.push_back({std::move(bytes), entry_id, now, std::nullopt});
  ++out_stream(key.dst).next_message;
  ++stats_.objects_sent;
  ++stats_.objects_sent_to_self;
  stats_.bytes_sent += size;
  return absl::OkStatus();
}

absl::Status WindowChannel::NotifyReaders(int dst, uint64_t published_slots) {
  const InboxStream inbox =
      dst == MessageKey::kEveryRank ? InboxStream::kCollective : InboxStream::kP2p;
  for (int r = 0; r < world_size_; ++r) {
    if (r == rank_ || (dst != MessageKey::kEveryRank && r != dst)) continue;
    if (absl::Status status = rma_->StoreWord(r, layout_.notice(rank_, inbox), published_slots);
        !status.ok()) {
      return status;
    }
    // On its way now: the reader must not depend on this member's next call.
    if (absl::Status status = rma_->SendNow(r); !status.ok()) return status;
  }
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
    if (key.kind == MessageKind::kAllGather) {
      if (absl::Status status = ReadAhead(key.kind); !status.ok()) return status;
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
                                        : RankName(dst),
          " in use); waiting for ", Laggards(dst, oldest, acked),
          " to read"));
    }
    if (absl::Status status = Idle(backoff); !status.ok()) return status;
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
                       : absl::StrJoin(ranks, ", ", [this](std::string* out, int rank) {
                           absl::StrAppend(out, RankName(rank));
                         });
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
  if (sealed.data_offset != Descriptor::kInline) rma_->SyncLocalStores();
  std::atomic_thread_fence(std::memory_order_release);
  std::memcpy(local(descriptor_offset(dst, descriptor.slot_plus_one - 1)),
              &sealed, sizeof(sealed));
  // In the unified model a store reaches remote MPI_Gets without further
  // calls (MPI-3.1, 11.4); the separate model needs a sync.
  if (!rma_->unified()) rma_->SyncLocalStores();
  return true;
}

absl::Status WindowChannel::PublishWithdrawal(int dst, Deadline& deadline) {
  OutStream& stream = out_stream(dst);
  if (!stream.withdrawn_message) return absl::OkStatus();
  const MessageKey key{stream.withdrawn_kind, rank_, dst, *stream.withdrawn_message};
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
  return NotifyReaders(dst, stream.next_slot);
}

// --------------------------------------------------------------- reclaiming

absl::Status WindowChannel::ReadAcks(std::vector<uint64_t>* acked) {
  acked->assign(layout_.acked_words(), 0);
  if (absl::Status status = rma_->LoadWords(layout_.acked_begin(),
                                            static_cast<int>(acked->size()), acked->data());
      !status.ok()) {
    return status;
  }
  if (absl::Status status = inbox_out_->Reclaim(
          [this](const PushedRecord& record) { ReleaseRecord(record, /*by_expiration=*/false); });
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

void WindowChannel::ReleaseRecord(const PushedRecord& record, bool by_expiration) {
  if (by_expiration) {
    ++stats_.reclaimed_by_expiration;
    stats_.reclaimed_bytes_by_expiration += record.bytes;
  } else {
    ++stats_.reclaimed_by_ack;
    stats_.reclaimed_bytes_by_ack += record.bytes;
  }
  if (--entries_[record.entry_id - first_entry_id_].live_chunks == 0) {
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
  if (absl::Status status = ReturnAllCredits(Completion::kAtTarget); !status.ok()) return status;
  rma_->Poll();
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
  return ExpireDataAt(options_.clock());
}

absl::Status WindowChannel::ExpireDataAt(absl::Time now) {
  const absl::Time cutoff = now - options_.data_expiration;
  if (entries_.empty() || entries_.front().time >= cutoff) return absl::OkStatus();
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
  for (SelfMessage& message : self_queue_) {
    if (message.time >= cutoff || message.expired_at) continue;
    message.expired_at = now;
    std::string().swap(message.bytes);
    Entry& entry = entries_[message.entry_id - first_entry_id_];
    entry.live_chunks = 0;
    --stats_.entries_in_use;
    ++stats_.reclaimed_by_expiration;
  }
  if (absl::Status status = inbox_out_->ExpireBefore(
          UnixNanos(cutoff), UnixNanos(now),
          [this](const PushedRecord& record) { ReleaseRecord(record, /*by_expiration=*/true); });
      !status.ok()) {
    return status;
  }
  if (expired_entries > 0) {
    rma_->SyncLocalStores();
    PopFinishedEntries();
    VLOG(1) << Where() << ": expired " << expired_entries
            << " message(s) older than "
            << absl::FormatDuration(options_.data_expiration);
  }
  return absl::OkStatus();
}

std::vector<std::pair<std::string, absl::Time>> WindowChannel::entries() const {
  std::vector<std::pair<std::string, absl::Time>> live;
  for (const Entry& entry : entries_) {
    if (entry.live_chunks > 0) live.emplace_back(entry.key.ToString(), entry.time);
  }
  return live;
}

// ------------------------------------------------------------------ reading

absl::Status WindowChannel::Fetch(MessageKind kind, int src, Deadline deadline,
                                  std::string* message, InPlaceReader* in_place,
                                  bool* read_in_place) {
  if (read_in_place != nullptr) *read_in_place = false;
  if (closed_) return absl::FailedPreconditionError(Where() + ": closed");
  if (src == rank_) return FetchFromSelf(message, deadline);
  Backoff backoff(oversubscribed_);
  while (true) {
    absl::StatusOr<std::optional<Located>> located = TryLocate(kind, src);
    if (!located.ok()) return located.status();
    if (*located && (*located)->kind != kind) return FailedKindError(kind, src, (*located)->kind);
    if (*located && (*located)->path == Path::kPushed) {
      return FetchPushed(kind, src, (*located)->record, message);
    }
    if (*located) {
      bool withdrawn = false;
      absl::Status status =
          FetchPulled(kind, src, deadline, message, in_place, read_in_place, &withdrawn);
      if (!withdrawn) return status;
      continue;  // the next message may come either way
    }
    if (backoff.ShouldCheckClock() && deadline.Passed()) {
      return NothingPublishedError(incoming_key(kind, src), src, /*also_silent=*/"");
    }
    if (absl::Status status = Idle(backoff); !status.ok()) return status;
  }
}

absl::StatusOr<std::optional<WindowChannel::Located>> WindowChannel::TryLocate(
    MessageKind kind, int src) {
  InStream& stream = in_stream(kind, src);
  if (stream.read_ahead) return Located{Path::kPulled, kind, {}};
  const InboxStream inbox = InboxStreamOf(kind);
  RecordHeader header;
  absl::StatusOr<SlotState> slot = inbox_in_->Peek(src, inbox, &header);
  if (!slot.ok()) {
    return absl::DataLossError(absl::StrCat(Where(), ": ", incoming_key(kind, src).ToString(),
                                            ": ", slot.status().message()));
  }
  const bool record_here = *slot == SlotState::kArrived;
  if (record_here && header.message_seq == stream.next_message) {
    return Located{Path::kPushed, static_cast<MessageKind>(header.kind), header};
  }
  if (record_here && header.message_seq < stream.next_message) {
    return absl::DataLossError(absl::StrCat(
        Where(), ": ", incoming_key(kind, src).ToString(), ": ", RankName(src),
        " pushed message #", header.message_seq, ", which was received already"));
  }
  // Not pushed (or not yet): a descriptor on the pull path, if announced.
  if (!stream.awaited) {
    absl::StatusOr<bool> announced = TryDescriptor(kind, src);
    if (!announced.ok()) return announced.status();
  }
  if (stream.awaited && stream.awaited->message_seq == stream.next_message) {
    return Located{Path::kPulled, static_cast<MessageKind>(stream.awaited->kind), {}};
  }
  // A later message's descriptor, or nothing yet: this one is still on its
  // way (a put and a notice land in no particular order).
  return std::nullopt;
}

absl::Status WindowChannel::FailedKindError(MessageKind kind, int src, MessageKind found) const {
  return absl::FailedPreconditionError(absl::StrCat(
      Where(), ": expected ", MessageKindName(kind), " ", incoming_key(kind, src).ToString(),
      " from ", RankName(src), " but it published ", MessageKindName(found),
      " there: the ranks do not make the same calls in the same order"));
}

absl::Status WindowChannel::FetchPushed(MessageKind kind, int src, RecordHeader header,
                                        std::string* message) {
  InStream& stream = in_stream(kind, src);
  const InboxStream inbox = InboxStreamOf(kind);
  const MessageKey key = incoming_key(kind, src);
  if (!header.expired()) {
    message->assign(reinterpret_cast<const char*>(inbox_in_->payload(src, inbox)),
                    header.payload_bytes);
    // Its writer may have expired it meanwhile (a new header, same payload).
    if (!inbox_in_->StillSealedAs(src, inbox, header)) {
      absl::StatusOr<SlotState> slot = inbox_in_->Peek(src, inbox, &header);
      if (!slot.ok()) return slot.status();
      if (*slot != SlotState::kArrived || !header.expired()) {
        return absl::DataLossError(absl::StrCat(Where(), ": ", key.ToString(), " from rank ",
                                                src, ": inbox record changed while read"));
      }
    }
  }
  absl::StatusOr<bool> credited = inbox_in_->Consume(src, inbox);
  if (!credited.ok()) return credited.status();
  if (*credited) ++deferred_acks_;  // completed when this member next waits
  ++stream.next_message;
  if (header.expired()) {
    message->clear();
    return ExpiredError(key, header.publish_time_ns, header.expired_at_ns);
  }
  ++stats_.objects_received;
  ++stats_.objects_received_pushed;
  stats_.bytes_received += message->size();
  return absl::OkStatus();
}

absl::Status WindowChannel::FetchFromSelf(std::string* message, Deadline& deadline) {
  const MessageKey key = incoming_key(MessageKind::kSend, rank_);
  if (self_queue_.empty()) {
    // Nothing can arrive while this member waits for itself.
    return absl::DeadlineExceededError(absl::StrCat(
        Where(), ": ", key.ToString(), ": nothing sent to self to receive (a message to "
        "oneself must be sent before it is received)"));
  }
  SelfMessage self = std::move(self_queue_.front());
  self_queue_.pop_front();
  ++p2p_in_[rank_].next_message;
  if (self.expired_at) {
    return ExpiredError(key, UnixNanos(self.time), UnixNanos(*self.expired_at));
  }
  Entry& entry = entries_[self.entry_id - first_entry_id_];
  entry.live_chunks = 0;
  --stats_.entries_in_use;
  ++stats_.reclaimed_by_ack;
  stats_.reclaimed_bytes_by_ack += self.bytes.size();
  PopFinishedEntries();
  *message = std::move(self.bytes);
  ++stats_.objects_received;
  stats_.bytes_received += message->size();
  return absl::OkStatus();
}

absl::Status WindowChannel::FetchPulled(MessageKind kind, int src, Deadline& deadline,
                                        std::string* out, InPlaceReader* in_place,
                                        bool* read_in_place, bool* withdrawn) {
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
  if (stream.read_ahead) {  // its first chunks are here already
    message = std::move(stream.read_ahead->bytes);
    next_offset = stream.read_ahead->next_offset;
    stream.read_ahead.reset();
  }
  while (next_offset == 0 || next_offset < message.size()) {
    const MessageKey key = incoming_key(kind, src);
    if (!stream.awaited) {
      if (absl::Status status = WaitForDescriptor(kind, src, deadline); !status.ok()) {
        return status;
      }
    }
    const Descriptor descriptor = *std::exchange(stream.awaited, std::nullopt);
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
      *withdrawn = true;
      return absl::OkStatus();
    }
    if (absl::Status status = CheckChunk(descriptor, layout_, stream.next_message,
                                         next_offset, message.size());
        !status.ok()) {
      return absl::DataLossError(absl::StrCat(Where(), ": ", key.ToString(),
                                              " from ", RankName(src), ": ",
                                              status.message()));
    }
    if (static_cast<MessageKind>(descriptor.kind) != kind) {
      stream.awaited = descriptor;  // still there for the right call
      return FailedKindError(kind, src, static_cast<MessageKind>(descriptor.kind));
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
      if (absl::Status status =
              rma_->Get(src, descriptor.data_offset, destination, descriptor.chunk_bytes);
          !status.ok()) {
        return status;
      }
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
        Where(), ": ", key.ToString(), " from ", RankName(src), ": ",
        message.size(), "-byte message corrupt: the chunk at byte ",
        corrupt_at, " does not match its hash"));
  }
  ++stats_.objects_received;
  stats_.bytes_received += message.size();
  return absl::OkStatus();
}

absl::Status WindowChannel::ReadAhead(MessageKind kind) {
  for (int src = 0; src < world_size_; ++src) {
    if (src == rank_) continue;
    InStream& stream = in_stream(kind, src);
    while (true) {
      if (!stream.awaited) {
        absl::StatusOr<bool> announced = TryDescriptor(kind, src);
        if (!announced.ok()) return announced.status();
        if (!*announced) break;
      }
      const Descriptor descriptor = *stream.awaited;
      const bool first = !stream.read_ahead;
      const uint64_t offset = first ? 0 : stream.read_ahead->next_offset;
      const absl::Duration age =
          options_.clock() -
          absl::FromUnixNanos(static_cast<int64_t>(descriptor.publish_time_ns));
      // Only plain chunks of a message of several: anything else (one chunk,
      // which Fetch may read in place; expired, withdrawn, hashed, old
      // enough to expire while read, another kind) is left to Fetch.
      if (descriptor.message_seq != stream.next_message ||
          static_cast<MessageKind>(descriptor.kind) != kind ||
          static_cast<DescriptorState>(descriptor.state) != DescriptorState::kPublished ||
          (first && descriptor.IsLastChunk()) || options_.verify_payloads ||
          age > options_.data_expiration / 2 ||
          !CheckChunk(descriptor, layout_, stream.next_message, offset,
                      first ? 0 : stream.read_ahead->bytes.size())
               .ok()) {
        break;
      }
      if (first) stream.read_ahead.emplace().bytes.resize(descriptor.message_bytes);
      char* destination = stream.read_ahead->bytes.data() + offset;
      const bool inline_chunk = descriptor.data_offset == Descriptor::kInline;
      if (inline_chunk) {
        std::memcpy(destination, descriptor.inline_data, descriptor.chunk_bytes);
      } else if (absl::Status status = rma_->Get(src, descriptor.data_offset, destination,
                                                 descriptor.chunk_bytes);
                 !status.ok()) {
        return status;
      }
      if (absl::Status status = Acknowledge(src, incoming_acked(kind), stream.next_slot + 1,
                                            inline_chunk ? 0 : descriptor.chunk_bytes);
          !status.ok()) {
        return status;
      }
      stream.awaited.reset();
      ++stream.next_slot;
      stream.read_ahead->next_offset += descriptor.chunk_bytes;
      if (descriptor.IsLastChunk()) break;
    }
  }
  return absl::OkStatus();
}

namespace {

// A chunk in a publisher's segment, read with MPI_Get as a decoder asks.
class WindowBytes final : public ByteSource {
 public:
  WindowBytes(Rma& rma, int rank, uint64_t data_offset)
      : rma_(rma), rank_(rank), data_offset_(data_offset) {}

  absl::Status Read(uint64_t offset, void* destination, size_t size) override {
    return rma_.Get(rank_, data_offset_ + offset, destination, size);
  }

 private:
  Rma& rma_;
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
  WindowBytes chunk(*rma_, src, descriptor.data_offset);
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
  if (absl::Status status = rma_->Get(src, descriptor_offset, &after, sizeof(after));
      !status.ok()) {
    return status;
  }
  if (after.descriptor_hash == descriptor.descriptor_hash) return false;
  *expired_ns = after.expired_at_ns;
  return true;
}

absl::Status WindowChannel::ExpiredError(const MessageKey& key, uint64_t published_ns,
                                         uint64_t expired_ns) const {
  return absl::NotFoundError(absl::StrCat(
      Where(), ": ", key.ToString(), " from ", RankName(key.src),
      " expired before it was read: published at ", FormatTime(published_ns),
      ", expired at ", FormatTime(expired_ns), " (data_expiration ",
      absl::FormatDuration(options_.data_expiration), " at the publisher)"));
}

absl::StatusOr<bool> WindowChannel::TryDescriptor(MessageKind kind, int src) {
  InStream& stream = in_stream(kind, src);
  // The publisher announces what its ring holds in this member's own
  // memory: no remote read until there is something to read.
  absl::StatusOr<uint64_t> announced = inbox_in_->Notice(src, InboxStreamOf(kind));
  if (!announced.ok()) return announced.status();
  if (*announced <= stream.next_slot) return false;
  Descriptor descriptor;
  if (absl::Status status = rma_->Get(src, incoming_descriptor(kind, stream.next_slot),
                                      &descriptor, sizeof(descriptor));
      !status.ok()) {
    return status;
  }
  absl::StatusOr<Arrival> arrival =
      CheckArrival(descriptor, stream.next_slot, src, incoming_key(kind, src));
  if (!arrival.ok()) return arrival.status();
  if (*arrival != Arrival::kArrived) return false;
  stream.awaited = descriptor;
  return true;
}

absl::Status WindowChannel::WaitForDescriptor(MessageKind kind, int src, Deadline& deadline) {
  Backoff backoff(oversubscribed_);
  while (true) {
    absl::StatusOr<bool> arrived = TryDescriptor(kind, src);
    if (!arrived.ok()) return arrived.status();
    if (*arrived) return absl::OkStatus();
    if (backoff.ShouldCheckClock() && deadline.Passed()) {
      return NothingPublishedError(incoming_key(kind, src), src, /*also_silent=*/"");
    }
    if (absl::Status status = Idle(backoff); !status.ok()) return status;
  }
}

absl::Status WindowChannel::AwaitPublished(MessageKind kind, absl::Span<const int> srcs,
                                           Deadline deadline) {
  if (closed_) return absl::FailedPreconditionError(Where() + ": closed");
  std::vector<int> silent(srcs.begin(), srcs.end());
  Backoff backoff(oversubscribed_);
  while (true) {
    // Every source is looked at in this member's own memory; only a
    // source that announced a pulled message costs a read.
    bool another_kind = false;
    auto still_silent = silent.begin();
    for (int src : silent) {
      absl::StatusOr<std::optional<Located>> located = TryLocate(kind, src);
      if (!located.ok()) return located.status();
      if (*located) {
        another_kind |= (*located)->kind != kind;
      } else {
        *still_silent++ = src;
      }
    }
    silent.erase(still_silent, silent.end());
    if (silent.empty() || another_kind) return absl::OkStatus();
    if (backoff.ShouldCheckClock() && deadline.Passed()) {
      std::string others;
      if (silent.size() > 1) {
        others = absl::StrJoin(silent.begin() + 1, silent.end(), ", ",
                               [this](std::string* out, int rank) {
                                 absl::StrAppend(out, RankName(rank));
                               });
      }
      return NothingPublishedError(incoming_key(kind, silent[0]), silent[0], others);
    }
    if (absl::Status status = Idle(backoff); !status.ok()) return status;
  }
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
        Where(), ": ", key.ToString(), " from ", RankName(src), ": slot ", slot,
        " was overwritten by slot ", descriptor.slot_plus_one - 1, " before it was read"));
  }
  return Arrival::kNotYet;
}

absl::Status WindowChannel::NothingPublishedError(const MessageKey& key, int src,
                                                  absl::string_view also_silent) const {
  return absl::DeadlineExceededError(absl::StrCat(
      Where(), ": timed out waiting for ", MessageKindName(key.kind), " ", key.ToString(),
      " from ", RankName(src), " (nothing published there yet",
      also_silent.empty() ? "" : absl::StrCat("; nor by ", also_silent), ")"));
}

absl::Status WindowChannel::Acknowledge(int src, uint64_t ack_offset,
                                        uint64_t value, uint64_t frees_bytes) {
  if (absl::Status status = rma_->StoreWord(src, ack_offset, value); !status.ok()) {
    return status;
  }
  if (frees_bytes > kMaxDeferredAckChunkBytes) {
    // Completes the ack at the publisher, so it can reuse the space at once.
    return rma_->Complete(src);
  }
  // Completing an ack (MPI_Win_flush) runs MPI's progress engine, which
  // yields the core on an oversubscribed node: one that frees a ring slot
  // and little data is completed when this rank next waits instead, off
  // the path between receiving a message and answering it.
  ++deferred_acks_;
  deferred_ack_bytes_ += frees_bytes;
  if (deferred_acks_ >= max_deferred_acks_ || deferred_ack_bytes_ > max_deferred_ack_bytes_) {
    return CompleteAcks(Completion::kOnItsWay);
  }
  return absl::OkStatus();
}

absl::Status WindowChannel::Idle(Backoff& backoff) {
  // A wait that outlasts its spinning hands consumed inbox slots back: the
  // reply it waits for may need them. (Not at once: a ping-pong would pay
  // a word update and a flush per message.)
  absl::Status status = backoff.JustStoppedSpinning()
                            ? ReturnAllCredits(Completion::kOnItsWay)
                            : CompleteAcks(Completion::kOnItsWay);
  if (!status.ok()) return status;
  // MPI_Win_sync runs the progress engine: needed for osc/pt2pt to land
  // peers' puts, not for osc/rdma on shared memory, so a spinning rank
  // calls it every 4th round only. On an oversubscribed node it is the
  // call that yields the core at the right moment: every round.
  if (oversubscribed_ || backoff.rounds() % 4 == 0) rma_->Poll();
  backoff.Pause();
  return absl::OkStatus();
}

absl::Status WindowChannel::ReturnAllCredits(Completion completion) {
  absl::StatusOr<int> issued = inbox_in_->ReturnCredits();
  if (!issued.ok()) return issued.status();
  deferred_acks_ += *issued;
  return CompleteAcks(completion);
}

absl::Status WindowChannel::CompleteAcks(Completion completion) {
  if (deferred_acks_ == 0) return absl::OkStatus();
  deferred_acks_ = 0;
  deferred_ack_bytes_ = 0;
  return completion == Completion::kAtTarget ? rma_->CompleteAll() : rma_->SendAllNow();
}

// ------------------------------------------------------------------ barrier

absl::Status WindowChannel::Barrier(Deadline deadline) {
  if (closed_) return absl::FailedPreconditionError(Where() + ": closed");
  // Whatever this rank read before the barrier is acknowledged (and its
  // inbox slots credited) when the barrier ends anywhere.
  if (absl::Status status = ReturnAllCredits(Completion::kAtTarget); !status.ok()) return status;
  const uint64_t epoch = ++barrier_epoch_;
  int round = 0;
  for (int distance = 1; distance < world_size_; distance *= 2, ++round) {
    const int to = (rank_ + distance) % world_size_;
    const int from = (rank_ - distance + world_size_) % world_size_;
    if (absl::Status status = rma_->AddWord(to, layout_.barrier(round), 1); !status.ok()) {
      return status;
    }
    if (absl::Status status = rma_->SendNow(to); !status.ok()) return status;
    Backoff backoff(oversubscribed_);
    uint64_t arrivals = 0;
    while (true) {
      if (absl::Status status = rma_->LoadWords(layout_.barrier(round), 1, &arrivals);
          !status.ok()) {
        return status;
      }
      if (arrivals >= epoch) break;
      if (backoff.ShouldCheckClock() && deadline.Passed()) {
        return absl::DeadlineExceededError(absl::StrCat(
            Where(), ": barrier #", epoch - 1, " timed out in round ", round,
            " waiting for ", RankName(from), " to arrive"));
      }
      rma_->Poll();
      backoff.Pause();
    }
  }
  // Every member acknowledged what it read before it arrived: reclaim it
  // now, so that stats() after a barrier shows it gone.
  return ReadAcks(&acked_);
}

}  // namespace fastvideo::dist
