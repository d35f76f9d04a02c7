#include "dist/stateless_process_group.h"

#include <algorithm>
#include <numeric>

#include <glog/logging.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dist/internal/lifelines.h"
#include "dist/internal/mpi_error.h"
#include "dist/internal/roll_call.h"
#include "dist/internal/window_channel.h"

namespace fastvideo {

using dist::MessageKey;
using dist::MessageKind;

struct StatelessProcessGroup::Impl {
  std::string name;
  std::vector<int> parent_ranks;
  GroupOptions options;
  std::unique_ptr<dist::WindowChannel> channel;
  // Groups across jobs only (see dist/internal/lifelines.h).
  std::shared_ptr<dist::Lifelines> lifelines;
  // Payloads asked for as the wrong type, by source: kept for the next call.
  std::vector<std::optional<std::string>> held_p2p;
  std::vector<std::optional<std::string>> held_bcast;
  std::string send_buffer;
  std::string receive_buffer;
};

namespace {

std::string DefaultName(const std::vector<int>& parent_ranks) {
  bool contiguous = true;
  for (size_t i = 1; i < parent_ranks.size(); ++i) {
    contiguous &= parent_ranks[i] == parent_ranks[i - 1] + 1;
  }
  if (contiguous && parent_ranks.size() > 2) {
    return absl::StrCat("ranks[", parent_ranks.front(), "-", parent_ranks.back(), "]");
  }
  if (parent_ranks.size() > 16) {
    return absl::StrCat("ranks[", parent_ranks.front(), ",", parent_ranks[1],
                        ",...(", parent_ranks.size(), " ranks)]");
  }
  return absl::StrCat("ranks[", absl::StrJoin(parent_ranks, ","), "]");
}

// The default timeout counts from when the call first has to wait: a call
// that finds its message there never reads the clock.
dist::Deadline ResolveDeadline(const GroupOptions& options,
                               StatelessProcessGroup::Deadline deadline) {
  return deadline ? dist::Deadline::At(*deadline) : dist::Deadline::After(options.default_timeout);
}

absl::StatusOr<std::vector<int>> ParentRanksOf(MPI_Comm comm, MPI_Comm parent) {
  MPI_Group group, parent_group;
  FV_RETURN_IF_MPI_ERROR(MPI_Comm_group(comm, &group));
  FV_RETURN_IF_MPI_ERROR(MPI_Comm_group(parent, &parent_group));
  int size = 0;
  MPI_Group_size(group, &size);
  std::vector<int> ranks(size), translated(size);
  std::iota(ranks.begin(), ranks.end(), 0);
  const int code = MPI_Group_translate_ranks(group, size, ranks.data(),
                                             parent_group, translated.data());
  MPI_Group_free(&group);
  MPI_Group_free(&parent_group);
  FV_RETURN_IF_MPI_ERROR(code);
  return translated;
}

}  // namespace

absl::StatusOr<StatelessProcessGroup> StatelessProcessGroup::Create(
    MPI_Comm parent, GroupOptions options, Deadline deadline) {
  int parent_size = 0;
  FV_RETURN_IF_MPI_ERROR(MPI_Comm_size(parent, &parent_size));
  std::vector<int> everyone(parent_size);
  std::iota(everyone.begin(), everyone.end(), 0);
  if (absl::Status status = dist::RollCall(
          parent, everyone, deadline.value_or(absl::Now() + options.default_timeout), "Create");
      !status.ok()) {
    return status;
  }
  MPI_Comm comm;
  FV_RETURN_IF_MPI_ERROR(MPI_Comm_dup(parent, &comm));
  absl::StatusOr<std::vector<int>> parent_ranks = ParentRanksOf(comm, parent);
  if (!parent_ranks.ok()) {
    MPI_Comm_free(&comm);
    return parent_ranks.status();
  }
  return FromOwnedComm(comm, *std::move(parent_ranks), std::move(options));
}

absl::StatusOr<StatelessProcessGroup> StatelessProcessGroup::FromOwnedComm(
    MPI_Comm comm, std::vector<int> parent_ranks, GroupOptions options,
    std::shared_ptr<dist::Lifelines> lifelines) {
  auto impl = std::make_unique<Impl>();
  impl->lifelines = std::move(lifelines);
  impl->parent_ranks = std::move(parent_ranks);
  impl->options = std::move(options);
  impl->name = impl->options.name.empty() ? DefaultName(impl->parent_ranks)
                                          : impl->options.name;
  if (impl->options.data_expiration_seconds < 0) {
    // Checked here too so the message speaks the option's name.
    MPI_Comm_free(&comm);
    return absl::InvalidArgumentError(absl::StrCat(
        "group '", impl->name, "': data_expiration_seconds must be >= 0, got ",
        impl->options.data_expiration_seconds));
  }
  dist::ChannelOptions channel_options;
  channel_options.name = impl->name;
  channel_options.parent_ranks = impl->parent_ranks;
  channel_options.segment_bytes = impl->options.window_bytes;
  channel_options.ring_slots = impl->options.ring_slots;
  channel_options.max_chunk_bytes = impl->options.max_chunk_bytes;
  channel_options.inbox = {impl->options.inbox_slots, impl->options.inbox_slot_bytes};
  channel_options.data_expiration =
      absl::Seconds(impl->options.data_expiration_seconds);
  channel_options.clock = impl->options.clock;
  channel_options.verify_payloads = impl->options.verify_payloads;
  channel_options.barrier = impl->options.barrier_algorithm;
  if (impl->lifelines) {
    channel_options.peers_alive = [lifelines = impl->lifelines, where = impl->name] {
      return lifelines->Check(absl::StrCat("group '", where, "'"));
    };
  }
  absl::StatusOr<std::unique_ptr<dist::WindowChannel>> channel =
      dist::WindowChannel::Create(comm, std::move(channel_options));
  if (!channel.ok()) return channel.status();  // Create freed the communicator
  impl->channel = *std::move(channel);
  impl->held_p2p.resize(impl->parent_ranks.size());
  impl->held_bcast.resize(impl->parent_ranks.size());
  VLOG(1) << "group '" << impl->name << "': formed with "
          << impl->parent_ranks.size() << " ranks";
  return StatelessProcessGroup(std::move(impl));
}

absl::StatusOr<StatelessProcessGroup> StatelessProcessGroup::CreateFromRanks(
    MPI_Comm parent, std::vector<int> ranks, GroupOptions options, Deadline deadline) {
  int parent_rank = 0, parent_size = 0;
  FV_RETURN_IF_MPI_ERROR(MPI_Comm_rank(parent, &parent_rank));
  FV_RETURN_IF_MPI_ERROR(MPI_Comm_size(parent, &parent_size));
  absl::flat_hash_set<int> seen;
  for (int rank : ranks) {
    if (rank < 0 || rank >= parent_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "CreateFromRanks: rank ", rank, " is out of range for a parent of ",
          parent_size, " ranks"));
    }
    if (!seen.insert(rank).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("CreateFromRanks: rank ", rank, " is listed twice"));
    }
  }
  if (!seen.contains(parent_rank)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CreateFromRanks: called on parent rank ", parent_rank,
        ", which is not in the list [", absl::StrJoin(ranks, ","),
        "]; only the listed ranks take part"));
  }
  if (absl::Status status =
          dist::RollCall(parent, ranks, deadline.value_or(absl::Now() + options.default_timeout),
                         "CreateFromRanks");
      !status.ok()) {
    return status;
  }
  MPI_Group parent_group, group;
  FV_RETURN_IF_MPI_ERROR(MPI_Comm_group(parent, &parent_group));
  int code = MPI_Group_incl(parent_group, static_cast<int>(ranks.size()),
                            ranks.data(), &group);
  MPI_Group_free(&parent_group);
  FV_RETURN_IF_MPI_ERROR(code);
  // The tag tells apart concurrent creations over the same parent.
  const int tag = static_cast<int>(
      std::accumulate(ranks.begin(), ranks.end(), uint64_t{17},
                      [](uint64_t h, int r) { return h * 31 + r; }) % 30000);
  MPI_Comm comm;
  code = MPI_Comm_create_group(parent, group, tag, &comm);
  MPI_Group_free(&group);
  FV_RETURN_IF_MPI_ERROR(code);
  // Group rank i is ranks[i]: MPI_Group_incl keeps the list's order.
  return FromOwnedComm(comm, std::move(ranks), std::move(options));
}

StatelessProcessGroup::StatelessProcessGroup(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
StatelessProcessGroup::StatelessProcessGroup(StatelessProcessGroup&&) noexcept = default;
StatelessProcessGroup& StatelessProcessGroup::operator=(
    StatelessProcessGroup&& other) noexcept {
  if (this != &other) {
    if (impl_) {
      absl::Status status = Close();
      LOG_IF(ERROR, !status.ok()) << status;
    }
    impl_ = std::move(other.impl_);
  }
  return *this;
}
StatelessProcessGroup::~StatelessProcessGroup() {
  if (impl_) {
    absl::Status status = Close();
    LOG_IF(ERROR, !status.ok()) << status;
  }
}

absl::Status StatelessProcessGroup::Close(Deadline deadline) {
  if (!impl_) {
    return absl::FailedPreconditionError(
        "StatelessProcessGroup::Close on a moved-from or closed group");
  }
  absl::Status status;
  if (absl::Status alive = CheckUsable("Close"); !alive.ok()) {
    // Nothing collective with members that are gone: it would never end.
    status = impl_->channel->Abandon(alive);
  } else {
    status = impl_->channel->CloseWhenAllCome(ResolveDeadline(impl_->options, deadline));
  }
  impl_.reset();
  return status;
}

int StatelessProcessGroup::rank() const { return impl_ ? impl_->channel->rank() : -1; }
int StatelessProcessGroup::world_size() const {
  return impl_ ? impl_->channel->world_size() : 0;
}
const std::string& StatelessProcessGroup::name() const {
  static const std::string* const kNone = new std::string("<closed>");
  return impl_ ? impl_->name : *kNone;
}
const std::vector<int>& StatelessProcessGroup::parent_ranks() const {
  static const std::vector<int>* const kNone = new std::vector<int>();
  return impl_ ? impl_->parent_ranks : *kNone;
}
MPI_Comm StatelessProcessGroup::comm() const {
  return impl_ ? impl_->channel->comm() : MPI_COMM_NULL;
}

absl::Status StatelessProcessGroup::CheckUsable(const char* call) const {
  if (!impl_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "StatelessProcessGroup::", call, " on a moved-from or closed group"));
  }
  if (!impl_->lifelines) return absl::OkStatus();
  absl::Status alive = impl_->lifelines->Check(
      absl::StrCat("group '", impl_->name, "' rank ", rank(), "/", world_size()));
  if (alive.ok()) return alive;
  return absl::Status(alive.code(), absl::StrCat(call, ": ", alive.message()));
}

absl::Status StatelessProcessGroup::CheckPeer(const char* call, int peer) const {
  if (absl::Status status = CheckUsable(call); !status.ok()) return status;
  if (peer >= 0 && peer < world_size()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "group '", impl_->name, "' rank ", rank(), "/", world_size(), ": ", call,
      ": peer rank ", peer, " is out of range [0, ", world_size(), ")"));
}


std::string& StatelessProcessGroup::send_buffer() { return impl_->send_buffer; }
std::string& StatelessProcessGroup::receive_buffer() { return impl_->receive_buffer; }

absl::Status StatelessProcessGroup::Publish(MessageKind kind, int dst,
                                            Deadline deadline) {
  return impl_->channel->Publish(kind, dst, impl_->send_buffer,
                                 ResolveDeadline(impl_->options, deadline));
}

absl::Status StatelessProcessGroup::PublishEncoded(MessageKind kind, int dst, uint64_t size,
                                                   absl::FunctionRef<bool(char*)> encode,
                                                   Deadline deadline) {
  dist::WindowChannel& channel = *impl_->channel;
  if (size > channel.max_chunk_bytes()) {
    // Several chunks: encode once into the send buffer, copy chunk by chunk.
    impl_->send_buffer.resize(size);
    if (!encode(impl_->send_buffer.data())) {
      return absl::InternalError(absl::StrCat(
          "group '", impl_->name, "': an object's codec did not write the ", size,
          " bytes it announced; nothing was published"));
    }
    return Publish(kind, dst, deadline);
  }
  return channel.Publish(
      kind, dst, size,
      [encode](char* destination, uint64_t offset, uint64_t bytes) {
        return offset == 0 && encode(destination);  // one chunk: all of it
      },
      ResolveDeadline(impl_->options, deadline));
}

absl::Status StatelessProcessGroup::TakePayload(MessageKind kind, int src,
                                                Deadline deadline,
                                                dist::InPlaceReader* in_place,
                                                bool* read_in_place) {
  *read_in_place = false;
  const char* call = kind == MessageKind::kSend ? "recv_obj" : dist::MessageKindName(kind);
  if (absl::Status status = CheckPeer(call, src); !status.ok()) return status;
  auto& held = (kind == MessageKind::kSend ? impl_->held_p2p : impl_->held_bcast)[src];
  if (held) {
    impl_->receive_buffer = *std::move(held);
    held.reset();
    return absl::OkStatus();
  }
  return impl_->channel->Fetch(kind, src, ResolveDeadline(impl_->options, deadline),
                               &impl_->receive_buffer, in_place, read_in_place);
}

absl::Status StatelessProcessGroup::AwaitAllGather(Deadline deadline) {
  std::vector<int> silent;
  for (int src = 0; src < world_size(); ++src) {
    if (src != rank() && !impl_->held_bcast[src]) silent.push_back(src);
  }
  return impl_->channel->AwaitPublished(MessageKind::kAllGather, silent,
                                        ResolveDeadline(impl_->options, deadline));
}

void StatelessProcessGroup::HoldPayload(MessageKind kind, int src) {
  (kind == MessageKind::kSend ? impl_->held_p2p : impl_->held_bcast)[src] =
      std::move(impl_->receive_buffer);
  impl_->receive_buffer.clear();
}

std::string StatelessProcessGroup::Describe(MessageKind kind, int src) const {
  const dist::WindowChannel& channel = *impl_->channel;
  const bool p2p = kind == MessageKind::kSend;
  const uint64_t fetched =
      p2p ? channel.recv_count(src) : channel.broadcast_recv_count(src);
  const MessageKey key{kind, src, p2p ? rank() : MessageKey::kEveryRank,
                       fetched == 0 ? 0 : fetched - 1};
  return absl::StrCat("group '", impl_->name, "' rank ", rank(), "/",
                      world_size(), ": ",
                      p2p ? "recv_obj" : dist::MessageKindName(kind), " ",
                      key.ToString(), " from rank ", src);
}

absl::Status StatelessProcessGroup::barrier(Deadline deadline) {
  if (absl::Status status = CheckUsable("barrier"); !status.ok()) return status;
  return impl_->channel->Barrier(ResolveDeadline(impl_->options, deadline));
}

absl::Status StatelessProcessGroup::expire_data() {
  if (absl::Status status = CheckUsable("expire_data"); !status.ok()) return status;
  return impl_->channel->ExpireData();
}

absl::Status StatelessProcessGroup::progress() {
  if (absl::Status status = CheckUsable("progress"); !status.ok()) return status;
  return impl_->channel->Progress();
}

std::vector<uint64_t> StatelessProcessGroup::send_dst_counter() const {
  std::vector<uint64_t> counts(world_size());
  for (int r = 0; r < world_size(); ++r) counts[r] = impl_->channel->send_count(r);
  return counts;
}

std::vector<uint64_t> StatelessProcessGroup::recv_src_counter() const {
  std::vector<uint64_t> counts(world_size());
  for (int r = 0; r < world_size(); ++r) {
    counts[r] = impl_->channel->recv_count(r) - (impl_->held_p2p[r] ? 1 : 0);
  }
  return counts;
}

uint64_t StatelessProcessGroup::broadcast_send_counter() const {
  return impl_ ? impl_->channel->broadcast_send_count() : 0;
}

std::vector<uint64_t> StatelessProcessGroup::broadcast_recv_src_counter() const {
  std::vector<uint64_t> counts(world_size());
  for (int r = 0; r < world_size(); ++r) {
    counts[r] =
        impl_->channel->broadcast_recv_count(r) - (impl_->held_bcast[r] ? 1 : 0);
  }
  return counts;
}

std::vector<std::pair<std::string, absl::Time>> StatelessProcessGroup::entries() const {
  return impl_ ? impl_->channel->entries()
               : std::vector<std::pair<std::string, absl::Time>>{};
}

int64_t StatelessProcessGroup::data_expiration_seconds() const {
  return impl_ ? impl_->options.data_expiration_seconds : 0;
}

dist::ChannelStats StatelessProcessGroup::stats() const {
  return impl_ ? impl_->channel->stats() : dist::ChannelStats{};
}

}  // namespace fastvideo
