#include "dist/internal/receiver.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dist/internal/hash.h"

namespace fastvideo::dist {
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

Receiver::Receiver(const ChannelContext& context)
    : ctx_(context),
      inbox_(context.rma, context.layout),
      p2p_in_(context.world_size),
      bcast_in_(context.world_size),
      max_deferred_acks_(
          static_cast<int>(std::clamp<uint64_t>(context.layout.ring_slots() / 8, 1, 16))),
      max_deferred_ack_bytes_(context.layout.data_bytes() / 8) {}

void Receiver::CountFromSelf(bool ok, uint64_t bytes) {
  ++p2p_in_[ctx_.rank].next_message;
  if (!ok) return;
  ++ctx_.stats.objects_received;
  ctx_.stats.bytes_received += bytes;
}

uint64_t Receiver::incoming_descriptor(MessageKind kind, uint64_t slot) const {
  return kind == MessageKind::kSend ? ctx_.layout.p2p_descriptor(ctx_.rank, slot)
                                    : ctx_.layout.bcast_descriptor(slot);
}

uint64_t Receiver::incoming_acked(MessageKind kind) const {
  return kind == MessageKind::kSend ? ctx_.layout.p2p_acked(ctx_.rank)
                                    : ctx_.layout.bcast_acked(ctx_.rank);
}

MessageKey Receiver::incoming_key(MessageKind kind, int src) const {
  const bool p2p = kind == MessageKind::kSend;
  return MessageKey{kind, src, p2p ? ctx_.rank : MessageKey::kEveryRank,
                    p2p ? p2p_in_[src].next_message : bcast_in_[src].next_message};
}

absl::Status Receiver::Fetch(MessageKind kind, int src, Deadline deadline, std::string* message,
                             InPlaceReader* in_place, bool* read_in_place) {
  if (read_in_place != nullptr) *read_in_place = false;
  Backoff backoff(ctx_.oversubscribed);
  bool last_look = false;
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
    if (last_look) return NothingPublishedError(incoming_key(kind, src), src, "");
    if (absl::Status status = Idle(backoff); !status.ok()) return status;
    // Past the deadline, one more look after the poll: what had arrived
    // by then is taken, not reported missing.
    last_look = backoff.ShouldCheckClock() && deadline.Passed();
  }
}

absl::StatusOr<std::optional<Receiver::Located>> Receiver::TryLocate(MessageKind kind, int src) {
  InStream& stream = in_stream(kind, src);
  if (stream.read_ahead) return Located{Path::kPulled, kind, {}};
  const InboxStream inbox = InboxStreamOf(kind);
  RecordHeader header;
  absl::StatusOr<SlotState> slot = inbox_.Peek(src, inbox, &header);
  if (!slot.ok()) {
    return absl::DataLossError(absl::StrCat(ctx_.Where(), ": ", incoming_key(kind, src).ToString(),
                                            ": ", slot.status().message()));
  }
  const bool record_here = *slot == SlotState::kArrived;
  if (record_here && header.message_seq == stream.next_message) {
    return Located{Path::kPushed, static_cast<MessageKind>(header.kind), header};
  }
  if (record_here && header.message_seq < stream.next_message) {
    return absl::DataLossError(absl::StrCat(ctx_.Where(), ": ", incoming_key(kind, src).ToString(),
                                            ": ", ctx_.RankName(src), " pushed message #",
                                            header.message_seq, ", which was received already"));
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

absl::Status Receiver::FailedKindError(MessageKind kind, int src, MessageKind found) const {
  return absl::FailedPreconditionError(absl::StrCat(
      ctx_.Where(), ": expected ", MessageKindName(kind), " ", incoming_key(kind, src).ToString(),
      " from ", ctx_.RankName(src), " but it published ", MessageKindName(found),
      " there: the ranks do not make the same calls in the same order"));
}

absl::Status Receiver::FetchPushed(MessageKind kind, int src, RecordHeader header,
                                   std::string* message) {
  InStream& stream = in_stream(kind, src);
  const InboxStream inbox = InboxStreamOf(kind);
  const MessageKey key = incoming_key(kind, src);
  if (!header.expired()) {
    message->assign(reinterpret_cast<const char*>(inbox_.payload(src, inbox)),
                    header.payload_bytes);
    // Its writer may have expired it meanwhile (a new header, same payload).
    if (!inbox_.StillSealedAs(src, inbox, header)) {
      absl::StatusOr<SlotState> slot = inbox_.Peek(src, inbox, &header);
      if (!slot.ok()) return slot.status();
      if (*slot != SlotState::kArrived || !header.expired()) {
        return absl::DataLossError(absl::StrCat(ctx_.Where(), ": ", key.ToString(), " from rank ",
                                                src, ": inbox record changed while read"));
      }
    }
  }
  absl::StatusOr<bool> credited = inbox_.Consume(src, inbox);
  if (!credited.ok()) return credited.status();
  if (*credited) ++deferred_acks_;  // completed when this member next waits...
  // ...unless its writer ran out of credit and waits for it
  // (Publisher::WaitForCredit): then every consumed slot goes back at once.
  // (Flushing after every record found without waiting, a guess at the
  // same, made 2-rank TCP all_gathers 1.1-1.3x slower.)
  absl::StatusOr<bool> asked = inbox_.AnswerCreditWanted(src, inbox);
  if (!asked.ok()) return asked.status();
  if (*asked) {
    ++deferred_acks_;
    if (!ctx_.rma.ops_land_on_return()) {
      if (absl::Status status = CompleteAcks(Completion::kOnItsWay); !status.ok()) return status;
    }
  }
  ++stream.next_message;
  if (header.expired()) {
    message->clear();
    return ExpiredError(key, header.publish_time_ns, header.expired_at_ns);
  }
  ++ctx_.stats.objects_received;
  ++ctx_.stats.objects_received_pushed;
  ctx_.stats.bytes_received += message->size();
  return absl::OkStatus();
}

absl::Status Receiver::FetchPulled(MessageKind kind, int src, Deadline& deadline, std::string* out,
                                   InPlaceReader* in_place, bool* read_in_place, bool* withdrawn) {
  InStream& stream = in_stream(kind, src);
  Pull pull{*out};
  pull.message.clear();
  if (stream.read_ahead) {  // its first chunks are here already
    pull.message = std::move(stream.read_ahead->bytes);
    pull.next_offset = stream.read_ahead->next_offset;
    stream.read_ahead.reset();
  }
  while (pull.next_offset == 0 || pull.next_offset < pull.message.size()) {
    if (!stream.awaited) {
      if (absl::Status status = WaitForDescriptor(kind, src, deadline); !status.ok()) {
        // What was read is kept for the next call, which goes on from there.
        if (pull.next_offset > 0 && !pull.expired && !pull.corrupt) {
          stream.read_ahead.emplace();
          stream.read_ahead->bytes = std::move(pull.message);
          stream.read_ahead->next_offset = pull.next_offset;
        }
        return status;
      }
    }
    const Descriptor descriptor = *std::exchange(stream.awaited, std::nullopt);
    const auto state = static_cast<DescriptorState>(descriptor.state);
    if (state == DescriptorState::kWithdrawn) {
      // The publisher gave up on a message we may have partly read.
      if (absl::Status status =
              Acknowledge(src, incoming_acked(kind), stream.next_slot + 1, /*frees_bytes=*/0);
          !status.ok()) {
        return status;
      }
      ++stream.next_slot;
      ++stream.next_message;
      pull.message.clear();
      *withdrawn = true;
      return absl::OkStatus();
    }
    if (absl::Status status = CheckChunk(descriptor, ctx_.layout, stream.next_message,
                                         pull.next_offset, pull.message.size());
        !status.ok()) {
      return absl::DataLossError(absl::StrCat(ctx_.Where(), ": ",
                                              incoming_key(kind, src).ToString(), " from ",
                                              ctx_.RankName(src), ": ", status.message()));
    }
    if (static_cast<MessageKind>(descriptor.kind) != kind) {
      stream.awaited = descriptor;  // still there for the right call
      return FailedKindError(kind, src, static_cast<MessageKind>(descriptor.kind));
    }
    if (in_place != nullptr && pull.next_offset == 0 && descriptor.IsLastChunk() &&
        state == DescriptorState::kPublished && descriptor.data_offset != Descriptor::kInline &&
        descriptor.chunk_bytes >= kInPlaceBytes && !ctx_.options.verify_payloads) {
      return FetchInPlace(kind, src, descriptor, stream, out, in_place, read_in_place);
    }
    if (absl::Status status = ReadChunk(kind, src, descriptor, pull); !status.ok()) {
      return status;
    }
    if (descriptor.IsLastChunk()) break;
  }
  return FinishPulled(kind, src, pull);
}

absl::Status Receiver::ReadChunk(MessageKind kind, int src, const Descriptor& descriptor,
                                 Pull& pull) {
  InStream& stream = in_stream(kind, src);
  const auto state = static_cast<DescriptorState>(descriptor.state);
  if (pull.next_offset == 0) pull.message.resize(descriptor.message_bytes);
  char* destination = pull.message.data() + descriptor.chunk_offset;
  const bool inline_chunk = descriptor.data_offset == Descriptor::kInline;
  if (state == DescriptorState::kExpired) {
    pull.expired = true;
    pull.published_ns = descriptor.publish_time_ns;
    pull.expired_ns = descriptor.expired_at_ns;
  } else if (inline_chunk) {
    std::memcpy(destination, descriptor.inline_data, descriptor.chunk_bytes);
  } else {
    if (absl::Status status =
            ctx_.rma.Get(src, descriptor.data_offset, destination, descriptor.chunk_bytes);
        !status.ok()) {
      return status;
    }
    absl::StatusOr<bool> expired_meanwhile = ExpiredWhileRead(
        src, incoming_descriptor(kind, stream.next_slot), descriptor, &pull.expired_ns);
    if (!expired_meanwhile.ok()) return expired_meanwhile.status();
    if (*expired_meanwhile) {
      pull.expired = true;
      pull.published_ns = descriptor.publish_time_ns;
    }
  }
  if (!pull.expired && ctx_.options.verify_payloads && !pull.corrupt &&
      Hash64(destination, descriptor.chunk_bytes) != descriptor.payload_hash) {
    pull.corrupt = true;
    pull.corrupt_at = descriptor.chunk_offset;
  }
  // Every chunk is consumed, good or bad, so the stream stays in step.
  if (absl::Status status = Acknowledge(src, incoming_acked(kind), stream.next_slot + 1,
                                        /*frees_bytes=*/inline_chunk ? 0 : descriptor.chunk_bytes);
      !status.ok()) {
    return status;
  }
  ++stream.next_slot;
  pull.next_offset += descriptor.chunk_bytes;
  return absl::OkStatus();
}

absl::Status Receiver::FinishPulled(MessageKind kind, int src, const Pull& pull) {
  const MessageKey key = incoming_key(kind, src);
  ++in_stream(kind, src).next_message;
  if (pull.expired) return ExpiredError(key, pull.published_ns, pull.expired_ns);
  if (pull.corrupt) {
    return absl::DataLossError(absl::StrCat(
        ctx_.Where(), ": ", key.ToString(), " from ", ctx_.RankName(src), ": ", pull.message.size(),
        "-byte message corrupt: the chunk at byte ", pull.corrupt_at, " does not match its hash"));
  }
  ++ctx_.stats.objects_received;
  ctx_.stats.bytes_received += pull.message.size();
  return absl::OkStatus();
}

absl::Status Receiver::ReadAhead(MessageKind kind) {
  for (int src = 0; src < ctx_.world_size; ++src) {
    if (src == ctx_.rank) continue;
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
          ctx_.options.clock() -
          absl::FromUnixNanos(static_cast<int64_t>(descriptor.publish_time_ns));
      // Only plain chunks of a message of several: anything else (one chunk,
      // which Fetch may read in place; expired, withdrawn, hashed, old
      // enough to expire while read, another kind) is left to Fetch.
      if (descriptor.message_seq != stream.next_message ||
          static_cast<MessageKind>(descriptor.kind) != kind ||
          static_cast<DescriptorState>(descriptor.state) != DescriptorState::kPublished ||
          (first && descriptor.IsLastChunk()) || ctx_.options.verify_payloads ||
          age > ctx_.options.data_expiration / 2 ||
          !CheckChunk(descriptor, ctx_.layout, stream.next_message, offset,
                      first ? 0 : stream.read_ahead->bytes.size())
               .ok()) {
        break;
      }
      if (first) stream.read_ahead.emplace().bytes.resize(descriptor.message_bytes);
      char* destination = stream.read_ahead->bytes.data() + offset;
      const bool inline_chunk = descriptor.data_offset == Descriptor::kInline;
      if (inline_chunk) {
        std::memcpy(destination, descriptor.inline_data, descriptor.chunk_bytes);
      } else if (absl::Status status =
                     ctx_.rma.Get(src, descriptor.data_offset, destination, descriptor.chunk_bytes);
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

absl::Status Receiver::FetchInPlace(MessageKind kind, int src, const Descriptor& descriptor,
                                    InStream& stream, std::string* message, InPlaceReader* in_place,
                                    bool* read_in_place) {
  const MessageKey key = incoming_key(kind, src);
  const uint64_t descriptor_at = incoming_descriptor(kind, stream.next_slot);
  WindowBytes chunk(ctx_.rma, src, descriptor.data_offset);
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
  if (absl::Status acked = Acknowledge(src, incoming_acked(kind), stream.next_slot + 1,
                                       /*frees_bytes=*/descriptor.chunk_bytes);
      !acked.ok()) {
    return acked;
  }
  ++stream.next_slot;
  ++stream.next_message;
  if (*expired) return ExpiredError(key, descriptor.publish_time_ns, expired_ns);
  if (status.ok()) {
    ++ctx_.stats.objects_received;
    ctx_.stats.bytes_received += descriptor.chunk_bytes;
    if (*read_in_place) ++ctx_.stats.objects_read_in_place;
  }
  return status;
}

absl::StatusOr<bool> Receiver::ExpiredWhileRead(int src, uint64_t descriptor_offset,
                                                const Descriptor& descriptor,
                                                uint64_t* expired_ns) {
  // The publisher marks a descriptor expired before it frees (and may
  // reuse) the chunk: if it is still published after the read, what we
  // read was the chunk's own bytes.
  const absl::Duration age =
      ctx_.options.clock() - absl::FromUnixNanos(static_cast<int64_t>(descriptor.publish_time_ns));
  if (age <= ctx_.options.data_expiration / 2) return false;
  Descriptor after;
  if (absl::Status status = ctx_.rma.Get(src, descriptor_offset, &after, sizeof(after));
      !status.ok()) {
    return status;
  }
  if (after.descriptor_hash == descriptor.descriptor_hash) return false;
  *expired_ns = after.expired_at_ns;
  return true;
}

absl::Status Receiver::ExpiredError(const MessageKey& key, uint64_t published_ns,
                                    uint64_t expired_ns) const {
  return absl::NotFoundError(
      absl::StrCat(ctx_.Where(), ": ", key.ToString(), " from ", ctx_.RankName(key.src),
                   " expired before it was read: published at ", FormatTime(published_ns),
                   ", expired at ", FormatTime(expired_ns), " (data_expiration ",
                   absl::FormatDuration(ctx_.options.data_expiration), " at the publisher)"));
}

absl::StatusOr<bool> Receiver::TryDescriptor(MessageKind kind, int src) {
  InStream& stream = in_stream(kind, src);
  // The publisher announces what its ring holds in this member's own
  // memory: no remote read until there is something to read.
  absl::StatusOr<uint64_t> announced = inbox_.Notice(src, InboxStreamOf(kind));
  if (!announced.ok()) return announced.status();
  if (*announced <= stream.next_slot) return false;
  Descriptor descriptor;
  if (absl::Status status = ctx_.rma.Get(src, incoming_descriptor(kind, stream.next_slot),
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

absl::Status Receiver::WaitForDescriptor(MessageKind kind, int src, Deadline& deadline) {
  Backoff backoff(ctx_.oversubscribed);
  bool last_look = false;
  while (true) {
    absl::StatusOr<bool> arrived = TryDescriptor(kind, src);
    if (!arrived.ok()) return arrived.status();
    if (*arrived) return absl::OkStatus();
    if (last_look) return NothingPublishedError(incoming_key(kind, src), src, "");
    if (absl::Status status = Idle(backoff); !status.ok()) return status;
    // Past the deadline, one more look after the poll: what had arrived
    // by then is taken, not reported missing.
    last_look = backoff.ShouldCheckClock() && deadline.Passed();
  }
}

absl::Status Receiver::AwaitPublished(MessageKind kind, absl::Span<const int> srcs,
                                      Deadline deadline) {
  std::vector<int> silent(srcs.begin(), srcs.end());
  Backoff backoff(ctx_.oversubscribed);
  bool last_look = false;
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
    if (last_look) {
      std::string others;
      if (silent.size() > 1) {
        others = absl::StrJoin(
            silent.begin() + 1, silent.end(), ", ",
            [this](std::string* out, int rank) { absl::StrAppend(out, ctx_.RankName(rank)); });
      }
      return NothingPublishedError(incoming_key(kind, silent[0]), silent[0], others);
    }
    if (absl::Status status = Idle(backoff); !status.ok()) return status;
    last_look = backoff.ShouldCheckClock() && deadline.Passed();  // (see Fetch)
  }
}

absl::StatusOr<Receiver::Arrival> Receiver::CheckArrival(const Descriptor& descriptor,
                                                         uint64_t slot, int src,
                                                         const MessageKey& key) const {
  // Not there yet: the slot still holds an older descriptor (checked first,
  // as it is cheap). A descriptor read while its owner rewrote it fails the
  // seal: read it again.
  const bool sealed = descriptor.slot_plus_one >= slot + 1 && descriptor.IsSealed();
  if (sealed && descriptor.slot_plus_one == slot + 1) return Arrival::kArrived;
  if (sealed && descriptor.slot_plus_one > slot + 1) {
    return absl::InternalError(absl::StrCat(
        ctx_.Where(), ": ", key.ToString(), " from ", ctx_.RankName(src), ": slot ", slot,
        " was overwritten by slot ", descriptor.slot_plus_one - 1, " before it was read"));
  }
  return Arrival::kNotYet;
}

absl::Status Receiver::NothingPublishedError(const MessageKey& key, int src,
                                             absl::string_view also_silent) const {
  return absl::DeadlineExceededError(
      absl::StrCat(ctx_.Where(), ": timed out waiting for ", MessageKindName(key.kind), " ",
                   key.ToString(), " from ", ctx_.RankName(src), " (nothing published there yet",
                   also_silent.empty() ? "" : absl::StrCat("; nor by ", also_silent), ")"));
}

absl::Status Receiver::Acknowledge(int src, uint64_t ack_offset, uint64_t value,
                                   uint64_t frees_bytes) {
  if (absl::Status status = ctx_.rma.StoreWord(src, ack_offset, value); !status.ok()) {
    return status;
  }
  if (frees_bytes > kMaxDeferredAckChunkBytes) {
    // Completes the ack at the publisher, so it can reuse the space at once.
    return ctx_.rma.Complete(src);
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

absl::Status Receiver::Idle(Backoff& backoff) {
  // Before anything here reaches a peer: towards a process that is gone,
  // Open MPI's TCP transport blocks for ever.
  if (backoff.ShouldCheckClock()) {
    if (absl::Status alive = ctx_.PeersAlive(); !alive.ok()) return alive;
  }
  // A wait that outlasts its spinning hands consumed inbox slots back: the
  // reply it waits for may need them. (Not at once: a ping-pong would pay
  // a word update and a flush per message.) While spinning, a writer that
  // asked for credit (Publisher::WaitForCredit waits 50 us) gets it.
  if (backoff.JustStoppedSpinning()) {
    if (absl::Status status = ReturnAllCredits(Completion::kOnItsWay); !status.ok()) {
      return status;
    }
  } else {
    if (backoff.ShouldCheckClock()) {
      absl::StatusOr<int> issued = inbox_.AnswerCreditAsks();
      if (!issued.ok()) return issued.status();
      deferred_acks_ += *issued;
    }
    if (absl::Status status = CompleteAcks(Completion::kOnItsWay); !status.ok()) return status;
  }
  // MPI_Win_sync runs the progress engine: osc/pt2pt lands peers' puts only
  // then, and on an oversubscribed node it is the call that yields the core
  // at the right moment. Every round: polling every 16th round made 2-rank
  // TCP ping-pong 2.9x slower, and every 4th gained nothing on shm.
  ctx_.rma.Poll();
  backoff.Pause();
  return absl::OkStatus();
}

absl::Status Receiver::ReturnAllCredits(Completion completion) {
  absl::StatusOr<int> issued = inbox_.ReturnCredits();
  if (!issued.ok()) return issued.status();
  deferred_acks_ += *issued;
  return CompleteAcks(completion);
}

absl::Status Receiver::CompleteAcks(Completion completion) {
  // Acks sent on their way earlier must land too before a barrier.
  const bool landing = completion == Completion::kAtTarget && acks_on_their_way_;
  if (deferred_acks_ == 0 && !landing) return absl::OkStatus();
  deferred_acks_ = 0;
  deferred_ack_bytes_ = 0;
  acks_on_their_way_ = completion == Completion::kOnItsWay;
  return completion == Completion::kAtTarget ? ctx_.rma.CompleteAll() : ctx_.rma.SendAllNow();
}

}  // namespace fastvideo::dist
