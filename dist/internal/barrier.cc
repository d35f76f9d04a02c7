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
  closing_ = false;
  return Meet(deadline);
}

absl::Status WindowBarrier::RunClose(Deadline deadline) {
  // A barrier that timed out is finished first, as the barrier it is: met
  // by late members' barriers, or found mismatched by closers' notes.
  if (pending_) {
    closing_ = false;
    if (absl::Status status = Meet(deadline); !status.ok()) return status;
  }
  // Every closer's note lands before its arrival, and nobody notes this
  // epoch's closing after arriving here: all closers that meet read the
  // same notes, so they agree on whether everyone closes.
  closing_ = true;
  return Meet(deadline);
}

absl::Status WindowBarrier::Meet(Deadline deadline) {
  if (!mismatch_.ok()) return mismatch_;
  if (!pending_) {
    ++epoch_;
    step_ = 0;
  }
  pending_ = true;
  // Before any signal of this meeting: whoever sees it arrive sees this.
  if (closing_) {
    if (absl::Status status = Note(kClosing); !status.ok()) return status;
  }
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
  if (status.ok()) status = CheckNotes(/*met=*/true);
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
      if (absl::Status notes = CheckNotes(/*met=*/false); !notes.ok()) return notes;
      if (deadline.Passed()) {
        const std::string meeting = absl::StrCat("barrier #", epoch_ - 1);
        return absl::DeadlineExceededError(absl::StrCat(
            ctx_.Where(), ": ", closing_ ? absl::StrCat("Close() (", meeting, ")") : meeting,
            " timed out waiting for ", ctx_.RankName(member), " ", waiting_for));
      }
    }
    ctx_.rma.Poll();
    backoff.Pause();
  }
}

absl::Status WindowBarrier::Note(NoteState state) {
  const uint64_t note = epoch_ << 2 | state;
  for (int member = 0; member < ctx_.world_size; ++member) {
    if (member == ctx_.rank) continue;
    if (absl::Status status =
            ctx_.rma.StoreWord(member, ctx_.layout.collective_note(ctx_.rank), note);
        !status.ok()) {
      return status;
    }
  }
  return ctx_.rma.CompleteAll();
}

absl::Status WindowBarrier::CheckNotes(bool met) {
  const int n = ctx_.world_size;
  notes_.resize(n);
  if (absl::Status status = ctx_.rma.LoadWords(ctx_.layout.collective_note(0), n, notes_.data());
      !status.ok()) {
    return status;
  }
  for (int member = 0; member < n; ++member) {
    if (member == ctx_.rank) continue;
    const uint64_t state = notes_[member] & 3, epoch = notes_[member] >> 2;
    const bool closes = state == kClosing;
    if (state == kLeft) {
      return Mismatch(absl::StrCat(ctx_.RankName(member),
                                   " found mismatched collectives (its error names them) and "
                                   "left the group's collectives"));
    }
    if (!closing_ && closes && epoch <= epoch_) {
      return Mismatch(absl::StrCat("barrier() #", epoch_ - 1, " met ", ctx_.RankName(member),
                                   "'s Close()"));
    }
    if (closing_ && met && !(closes && epoch == epoch_)) {
      return Mismatch(absl::StrCat("Close() met ", ctx_.RankName(member), "'s ",
                                   closes ? "Close() after another number of barriers"
                                          : absl::StrCat("barrier() #", epoch_ - 1)));
    }
  }
  return absl::OkStatus();
}

absl::Status WindowBarrier::Mismatch(absl::string_view what) {
  mismatch_ = absl::FailedPreconditionError(absl::StrCat(
      ctx_.Where(), ": mismatched collectives: ", what,
      " (a barrier is met only by barriers); the group can meet no more: Close() it"));
  // So that the others stop waiting for this member; if this fails, they
  // find out at their deadline.
  Note(kLeft).IgnoreError();
  return mismatch_;
}

}  // namespace fastvideo::dist
