#include "dist/internal/barrier.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "dist/internal/backoff.h"

namespace fastvideo::dist {

namespace {

// Measured with 2-8 ranks on 2 cores (tools/benchmark/benchmark.md): one
// round of all-to-all stores beats log2(n) dependent rounds on shared
// memory, even with 4 ranks per core; over osc/pt2pt each store is a TCP
// message and the star's 2(n-1) of them beat n(n-1) from 3 members on (at
// 2, both send 2 and all-to-all waits once).
constexpr int kMaxAllToAllMembers = 16;
constexpr int kMaxStarMembers = 64;

}  // namespace

BarrierAlgorithm ResolveBarrierAlgorithm(BarrierAlgorithm requested, int world_size,
                                         bool shared_memory) {
  if (requested != BarrierAlgorithm::kAuto) return requested;
  if (world_size <= 2 || (shared_memory && world_size <= kMaxAllToAllMembers)) {
    return BarrierAlgorithm::kAllToAll;
  }
  if (!shared_memory && world_size <= kMaxStarMembers) return BarrierAlgorithm::kStar;
  return BarrierAlgorithm::kDissemination;
}

absl::Status WindowBarrier::Run(Deadline deadline) {
  if (!pending_) {
    ++epoch_;
    step_ = 0;
  }
  pending_ = true;
  absl::Status status;
  switch (algorithm_) {
    case BarrierAlgorithm::kAuto:
    case BarrierAlgorithm::kAllToAll:
      status = RunAllToAll(deadline);
      break;
    case BarrierAlgorithm::kStar:
      status = RunStar(deadline);
      break;
    case BarrierAlgorithm::kDissemination:
      status = RunDissemination(deadline);
      break;
  }
  // Only a timeout leaves the barrier to resume; anything else breaks the
  // group, and resuming would only hide it.
  pending_ = absl::IsDeadlineExceeded(status);
  return status;
}

// Steps: 0 signal everyone, then 1 + m: waiting for member m.
absl::Status WindowBarrier::RunAllToAll(Deadline& deadline) {
  const int n = ctx_.world_size;
  if (step_ == 0) {
    for (int member = 0; member < n; ++member) {
      if (member == ctx_.rank) continue;
      if (absl::Status status = Signal(member); !status.ok()) return status;
    }
    if (absl::Status status = SendSignals(); !status.ok()) return status;
    step_ = 1;
  }
  for (; step_ <= n; ++step_) {
    const int member = step_ - 1;
    if (member == ctx_.rank) continue;
    if (absl::Status status =
            Await(ctx_.layout.barrier_arrival(member), member, "to arrive", deadline);
        !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

// Member 0 steps: 1 + m waiting for member m, then n + 1 releasing all.
// Others: 0 signal member 0, then 1 waiting for its release.
absl::Status WindowBarrier::RunStar(Deadline& deadline) {
  const int n = ctx_.world_size;
  if (ctx_.rank != 0) {
    if (step_ == 0) {
      if (absl::Status status = Signal(0); !status.ok()) return status;
      if (absl::Status status = SendSignals(); !status.ok()) return status;
      step_ = 1;
    }
    return Await(ctx_.layout.barrier_arrival(0), 0,
                 "to release it (rank 0 does once every member has arrived)", deadline);
  }
  for (step_ = std::max(step_, 1); step_ < n; ++step_) {
    if (absl::Status status =
            Await(ctx_.layout.barrier_arrival(step_), step_, "to arrive", deadline);
        !status.ok()) {
      return status;
    }
  }
  for (int member = 1; member < n; ++member) {
    if (absl::Status status = Signal(member); !status.ok()) return status;
  }
  return SendSignals();
}

// Steps: 2i signal for round i, 2i + 1 waiting in round i. Round words
// count arrivals (MPI_SUM): a member is signalled by one partner per round.
absl::Status WindowBarrier::RunDissemination(Deadline& deadline) {
  const int n = ctx_.world_size;
  int round = 0;
  for (int distance = 1; distance < n; distance *= 2, ++round) {
    if (step_ > 2 * round + 1) continue;
    const int to = (ctx_.rank + distance) % n;
    const int from = (ctx_.rank - distance + n) % n;
    if (step_ == 2 * round) {
      if (absl::Status status = ctx_.rma.AddWord(to, ctx_.layout.barrier_round(round), 1);
          !status.ok()) {
        return status;
      }
      if (absl::Status status = SendSignals(); !status.ok()) return status;
      step_ = 2 * round + 1;
    }
    if (absl::Status status =
            Await(ctx_.layout.barrier_round(round), from,
                  absl::StrCat("to arrive (round ", round, ")"), deadline);
        !status.ok()) {
      return status;
    }
    step_ = 2 * round + 2;
  }
  return absl::OkStatus();
}

absl::Status WindowBarrier::SendSignals() {
  // Where they are done already, a flush would only yield the core.
  return ctx_.rma.ops_land_on_return() ? absl::OkStatus() : ctx_.rma.SendAllNow();
}

absl::Status WindowBarrier::Signal(int member) {
  return ctx_.rma.StoreWord(member, ctx_.layout.barrier_arrival(ctx_.rank), epoch_);
}

absl::Status WindowBarrier::Await(uint64_t offset, int member, absl::string_view waiting_for,
                                  Deadline& deadline) {
  Backoff backoff(ctx_.oversubscribed);
  uint64_t reached = 0;
  while (true) {
    if (absl::Status status = ctx_.rma.LoadWords(offset, 1, &reached); !status.ok()) {
      return status;
    }
    if (reached >= epoch_) return absl::OkStatus();
    if (backoff.ShouldCheckClock()) {
      if (absl::Status alive = ctx_.PeersAlive(); !alive.ok()) return alive;
      if (deadline.Passed()) {
        return absl::DeadlineExceededError(
            absl::StrCat(ctx_.Where(), ": barrier #", epoch_ - 1, " timed out waiting for ",
                         ctx_.RankName(member), " ", waiting_for));
      }
    }
    ctx_.rma.Poll();
    backoff.Pause();
  }
}

}  // namespace fastvideo::dist
