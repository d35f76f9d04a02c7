#include "dist/internal/barrier.h"

#include "absl/strings/str_cat.h"
#include "dist/internal/backoff.h"

namespace fastvideo::dist {

absl::Status DisseminationBarrier::Run(Deadline deadline) {
  ++epoch_;
  const int n = ctx_.world_size;
  int round = 0;
  for (int distance = 1; distance < n; distance *= 2, ++round) {
    const int to = (ctx_.rank + distance) % n;
    const int from = (ctx_.rank - distance + n) % n;
    if (absl::Status status = ctx_.rma.AddWord(to, ctx_.layout.barrier(round), 1); !status.ok()) {
      return status;
    }
    if (absl::Status status = ctx_.rma.SendNow(to); !status.ok()) return status;
    if (absl::Status status = AwaitRound(round, from, deadline); !status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status DisseminationBarrier::AwaitRound(int round, int from, Deadline& deadline) {
  Backoff backoff(ctx_.oversubscribed);
  uint64_t arrivals = 0;
  while (true) {
    if (absl::Status status = ctx_.rma.LoadWords(ctx_.layout.barrier(round), 1, &arrivals);
        !status.ok()) {
      return status;
    }
    if (arrivals >= epoch_) return absl::OkStatus();
    if (backoff.ShouldCheckClock()) {
      if (absl::Status alive = ctx_.PeersAlive(); !alive.ok()) return alive;
    }
    if (backoff.ShouldCheckClock() && deadline.Passed()) {
      return absl::DeadlineExceededError(
          absl::StrCat(ctx_.Where(), ": barrier #", epoch_ - 1, " timed out in round ", round,
                       " waiting for ", ctx_.RankName(from), " to arrive"));
    }
    ctx_.rma.Poll();
    backoff.Pause();
  }
}

}  // namespace fastvideo::dist
