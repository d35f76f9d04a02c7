#include "dist/internal/window_channel.h"

#include <glog/logging.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "dist/internal/forget_window.h"
#include "dist/internal/mca_setting.h"
#include "dist/internal/mpi_error.h"
#include "dist/internal/node_load.h"
#include "dist/internal/op_landing.h"
#include "dist/internal/window_allocation.h"

namespace fastvideo::dist {
namespace {

constexpr uint64_t kMinDataBytes = 4096;

// Collective: what every member must agree on to lay its segment out the
// same way, and the layout that follows.
absl::StatusOr<SegmentLayout> AgreedLayout(MPI_Comm comm, ChannelOptions& options) {
  int world_size = 0;
  MPI_Comm_size(comm, &world_size);
  if (options.ring_slots == 0) {
    options.ring_slots = std::clamp<uint64_t>(
        options.segment_bytes / 4 / ((world_size + 1) * sizeof(Descriptor)), 16, 1024);
  }
  if (options.inbox.slot_bytes == 0) {
    options.inbox.slot_bytes =
        AutoInboxSlotBytes(world_size, options.segment_bytes, options.inbox.slots);
  }
  // One reduction finds both extremes: the maximum of ~x is ~(minimum of x).
  const uint64_t mine[4] = {options.segment_bytes, options.ring_slots, options.inbox.slots,
                            options.inbox.slot_bytes};
  uint64_t extremes[8];
  for (int i = 0; i < 4; ++i) extremes[i] = mine[i], extremes[4 + i] = ~mine[i];
  FV_RETURN_IF_MPI_ERROR(MPI_Allreduce(MPI_IN_PLACE, extremes, 8, MPI_UINT64_T, MPI_MAX, comm));
  uint64_t low[4], high[4];
  for (int i = 0; i < 4; ++i) high[i] = extremes[i], low[i] = ~extremes[4 + i];
  if (!std::equal(low, low + 4, high)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "group '", options.name, "': members disagree on the window: segment_bytes from ", low[0],
        " to ", high[0], ", ring_slots from ", low[1], " to ", high[1], ", inbox slots from ",
        low[2], " to ", high[2], ", inbox slot bytes from ", low[3], " to ", high[3],
        "; every member must pass the same options"));
  }
  if (options.data_expiration < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("group '", options.name,
                                                   "': data_expiration must not be negative, got ",
                                                   absl::FormatDuration(options.data_expiration)));
  }
  absl::StatusOr<SegmentLayout> layout = SegmentLayout::Create(
      world_size, options.ring_slots, options.segment_bytes, kMinDataBytes, options.inbox);
  if (!layout.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("group '", options.name, "': ", layout.status().message()));
  }
  return layout;
}

}  // namespace

absl::StatusOr<std::unique_ptr<WindowChannel>> WindowChannel::Create(MPI_Comm comm,
                                                                     ChannelOptions options) {
  // The communicator is ours from here on, whatever happens.
  const absl::Status handler =
      MpiStatus(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  absl::StatusOr<SegmentLayout> layout =
      handler.ok() ? AgreedLayout(comm, options) : absl::StatusOr<SegmentLayout>(handler);
  if (!layout.ok()) {
    MPI_Comm_free(&comm);
    return layout.status();
  }
  // From here the channel owns the communicator: a failure closes it.
  std::unique_ptr<WindowChannel> channel(new WindowChannel(comm, std::move(options), *layout));
  if (absl::Status status = channel->OpenWindow(); !status.ok()) return status;
  VLOG(1) << channel->context_->Where() << ": window of " << layout->segment_bytes()
          << " bytes per member, " << layout->data_bytes() << " for data, " << layout->ring_slots()
          << " ring slots, inboxes of " << layout->inbox().slots << " x "
          << layout->inbox().slot_bytes << " bytes, chunks of up to " << channel->max_chunk_bytes()
          << " bytes, " << (channel->rma_->unified() ? "unified" : "separate") << " memory model"
          << (channel->context_->oversubscribed ? ", oversubscribed node" : "");
  return channel;
}

WindowChannel::WindowChannel(MPI_Comm comm, ChannelOptions options, SegmentLayout layout)
    : comm_(comm), options_(std::move(options)), layout_(layout) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &world_size_);
}

absl::Status WindowChannel::OpenWindow() {
  absl::StatusOr<NodeLoad> load = MeasureNodeLoad(comm_);
  if (!load.ok()) return load.status();
  absl::StatusOr<AllocatedWindow> allocated = AllocateWindow(
      comm_, static_cast<MPI_Aint>(layout_.segment_bytes()), load->all_ranks_here);
  if (!allocated.ok()) {
    return absl::Status(allocated.status().code(),
                        absl::StrCat("group '", options_.name, "' rank ", rank_, ": ",
                                     allocated.status().message()));
  }
  window_ = allocated->window;
  base_ = allocated->base;
  FV_RETURN_IF_MPI_ERROR(MPI_Win_set_errhandler(window_, MPI_ERRORS_RETURN));
  int* model = nullptr;
  int has_model = 0;
  FV_RETURN_IF_MPI_ERROR(MPI_Win_get_attr(window_, MPI_WIN_MODEL, &model, &has_model));
  FV_RETURN_IF_MPI_ERROR(MPI_Win_lock_all(MPI_MODE_NOCHECK, window_));
  window_locked_ = true;
  std::memset(base_, 0, layout_.data_begin());
  FV_RETURN_IF_MPI_ERROR(MPI_Win_sync(window_));
  // Nobody reads or writes a segment before its owner has cleared it.
  FV_RETURN_IF_MPI_ERROR(MPI_Barrier(comm_));
  // Every member reaches the same answers: all are on one node or none is,
  // and mpirun gives all the same MCA settings.
  const bool shared_memory = allocated->shared_memory;
  const std::string osc = ProcessMcaSettings().osc.value_or("");
  absl::StatusOr<bool> ops_land_on_return =
      OpsLandOnReturn(window_, comm_, base_, {layout_.put_probe(), layout_.accumulate_probe()},
                      shared_memory && !McaListAdmits(osc, "ucx"));
  if (!ops_land_on_return.ok()) return ops_land_on_return.status();
  rma_ = std::make_unique<MpiRma>(window_, base_, rank_, has_model && *model == MPI_WIN_UNIFIED,
                                  *ops_land_on_return);
  context_ = std::make_unique<ChannelContext>(
      ChannelContext{*rma_, layout_, options_, stats_, rank_, world_size_, load->oversubscribed});
  publisher_ = std::make_unique<Publisher>(*context_);
  receiver_ = std::make_unique<Receiver>(*context_);
  barrier_ = std::make_unique<WindowBarrier>(
      *context_, ResolveBarrierAlgorithm(options_.barrier, world_size_, shared_memory));
  return absl::OkStatus();
}

WindowChannel::~WindowChannel() {
  absl::Status status = Close();
  LOG_IF(ERROR, !status.ok()) << "group '" << options_.name << "': closing failed: " << status;
}

absl::Status WindowChannel::Close() {
  if (closed_) return absl::OkStatus();
  closed_ = true;
  VLOG(1) << "group '" << options_.name << "' rank " << rank_ << ": closing; sent "
          << stats_.objects_sent << " objects (" << stats_.bytes_sent << " bytes), received "
          << stats_.objects_received << " (" << stats_.bytes_received << " bytes), "
          << stats_.entries_in_use << " entries unreclaimed";
  // Undo what OpenWindow did, all of it even when a step fails.
  absl::Status status;
  if (window_locked_) status.Update(MpiStatus(MPI_Win_unlock_all(window_), "MPI_Win_unlock_all"));
  if (window_ != MPI_WIN_NULL) status.Update(MpiStatus(MPI_Win_free(&window_), "MPI_Win_free"));
  if (comm_ != MPI_COMM_NULL) status.Update(MpiStatus(MPI_Comm_free(&comm_), "MPI_Comm_free"));
  return status;
}

absl::Status WindowChannel::CloseWhenAllCome(Deadline deadline) {
  if (closed_) return absl::OkStatus();
  absl::Status met = receiver_->ReturnAllCredits(Receiver::Completion::kAtTarget);
  if (met.ok()) met = barrier_->RunClose(deadline);
  if (met.ok()) return Close();
  return Abandon(met);
}

absl::Status WindowChannel::Abandon(const absl::Status& why) {
  if (closed_) return absl::OkStatus();
  closed_ = true;
  // Left as they are (anything collective would wait for the members that
  // are gone), and out of MPI_Finalize's way.
  ForgetWindow(window_);
  window_ = MPI_WIN_NULL;
  comm_ = MPI_COMM_NULL;
  LOG(WARNING) << why;
  // A mismatch stays one (the caller's error); members that did not come
  // are gone.
  return absl::Status(
      absl::IsFailedPrecondition(why) ? why.code() : absl::StatusCode::kUnavailable,
      absl::StrCat(why.message(),
                   "; closing without them: the group's window and communicator are abandoned "
                   "(nothing collective is called)"));
}

absl::Status WindowChannel::CheckOpen() const {
  if (!closed_ && context_) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("group '", options_.name, "' rank ", rank_, ": the channel is closed"));
}

absl::Status WindowChannel::Publish(MessageKind kind, int dst, absl::string_view bytes,
                                    Deadline deadline) {
  return Publish(
      kind, dst, bytes.size(),
      [bytes](char* destination, uint64_t offset, uint64_t chunk_bytes) {
        std::memcpy(destination, bytes.data() + offset, chunk_bytes);
        return true;
      },
      deadline);
}

absl::Status WindowChannel::Publish(MessageKind kind, int dst, uint64_t size, ChunkWriter write,
                                    Deadline deadline) {
  if (absl::Status status = CheckOpen(); !status.ok()) return status;
  // While it waits for room, a member goes on reading what it must read
  // for the others to free theirs (see Receiver::ReadAhead).
  return publisher_->Publish(kind, dst, size, write, deadline, [this, kind](Backoff& backoff) {
    if (kind == MessageKind::kAllGather) {
      if (absl::Status status = receiver_->ReadAhead(kind); !status.ok()) return status;
    }
    return receiver_->Idle(backoff);
  });
}

absl::Status WindowChannel::Fetch(MessageKind kind, int src, Deadline deadline,
                                  std::string* message, InPlaceReader* in_place,
                                  bool* read_in_place) {
  if (read_in_place != nullptr) *read_in_place = false;
  if (absl::Status status = CheckOpen(); !status.ok()) return status;
  if (src != rank_) {
    return receiver_->Fetch(kind, src, deadline, message, in_place, read_in_place);
  }
  absl::Status status =
      publisher_->TakeFromSelf(receiver_->incoming_key(MessageKind::kSend, rank_), message);
  receiver_->CountFromSelf(status.ok(), message->size());
  return status;
}

absl::Status WindowChannel::AwaitPublished(MessageKind kind, absl::Span<const int> srcs,
                                           Deadline deadline) {
  if (absl::Status status = CheckOpen(); !status.ok()) return status;
  return receiver_->AwaitPublished(kind, srcs, deadline);
}

absl::Status WindowChannel::Barrier(Deadline deadline) {
  if (absl::Status status = CheckOpen(); !status.ok()) return status;
  // Whatever this member read before the barrier is acknowledged (and its
  // inbox slots credited) when the barrier ends anywhere ...
  if (absl::Status status = receiver_->ReturnAllCredits(Receiver::Completion::kAtTarget);
      !status.ok()) {
    return status;
  }
  if (absl::Status status = barrier_->Run(deadline); !status.ok()) return status;
  // ... so reclaiming now shows it gone in stats().
  return publisher_->Reclaim();
}

absl::Status WindowChannel::Progress() {
  if (absl::Status status = CheckOpen(); !status.ok()) return status;
  if (absl::Status status = receiver_->ReturnAllCredits(Receiver::Completion::kAtTarget);
      !status.ok()) {
    return status;
  }
  rma_->Poll();
  if (absl::Status status = publisher_->Reclaim(); !status.ok()) return status;
  return publisher_->PublishPendingWithdrawals(
      [this](Backoff& backoff) { return receiver_->Idle(backoff); });
}

absl::Status WindowChannel::ExpireData() {
  if (absl::Status status = CheckOpen(); !status.ok()) return status;
  return publisher_->ExpireData(options_.clock());
}

}  // namespace fastvideo::dist
