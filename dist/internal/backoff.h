// Polling with back-off: spin (a reply is often microseconds away), then
// yield the core, then sleep with growing pauses, so that 8 ranks on 2
// cores still let the rank they wait for run.
// - A rank with a core of its own spins for kSpinTime, not a number of
//   rounds: a round is 0.1 us on shared memory and 2 us over TCP (a poll
//   syscall), and a waiter that yields early pays a syscall (1-2 us on a
//   VM) between a message's arrival and its noticing: spinning 64 rounds
//   made a 2-rank shm ping-pong of an 800-byte dict 1.3-1.6x slower.
// - When the node has more ranks than cores, the MPI call in each poll
//   already yields the core (Open MPI does when it sees the node
//   oversubscribed), so only a few rounds go without a yield of our own: a
//   second yield per poll would double the context switches between a
//   message's arrival and its reader noticing.
// - Sleeping starts late (after 2^18 yields, a fraction of a second): over
//   osc/pt2pt a waiting member is also the target of its peers' reads,
//   which progress only while it polls; sleeping after 4096 yields made
//   2-rank TCP 1 MiB bandwidth 0.17x of MPI instead of 0.41x.
#ifndef FASTVIDEO_DIST_INTERNAL_BACKOFF_H_
#define FASTVIDEO_DIST_INTERNAL_BACKOFF_H_

#include <sched.h>

#include <algorithm>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace fastvideo::dist {

class Backoff {
 public:
  explicit Backoff(bool oversubscribed)
      : oversubscribed_(oversubscribed),
        spin_until_(oversubscribed ? absl::InfinitePast() : absl::Now() + kSpinTime) {}

  // Whether a poll loop should read the clock now: reading it is not free,
  // so while spinning only every 16th round (and the first) does.
  bool ShouldCheckClock() const { return !spinning_ || rounds_ % 16 == 0; }

  // Pauses so far.
  int rounds() const { return rounds_; }
  // Whether the wait has just outlasted its spinning (true for one round):
  // what is worth doing while idle (returning credits, say) is worth doing
  // now, once.
  bool JustStoppedSpinning() const { return just_stopped_; }

  void Pause() {
    ++rounds_;
    just_stopped_ = false;
    if (spinning_) {
      if (!SpinningOver()) return;
      spinning_ = false;
      just_stopped_ = true;
      return;
    }
    if (++yields_ <= kYieldRounds) {
      sched_yield();
      return;
    }
    absl::SleepFor(sleep_);
    sleep_ = std::min(sleep_ * 2, kMaxSleep);
  }

  static constexpr absl::Duration kSpinTime = absl::Microseconds(100);

 private:
  bool SpinningOver() const {
    if (oversubscribed_) return rounds_ >= kOversubscribedSpinRounds;
    return rounds_ % 16 == 0 && absl::Now() >= spin_until_;
  }

  static constexpr int kOversubscribedSpinRounds = 16;
  static constexpr int kYieldRounds = 1 << 18;
  static constexpr absl::Duration kMaxSleep = absl::Microseconds(200);

  const bool oversubscribed_;
  const absl::Time spin_until_;
  bool spinning_ = true;
  bool just_stopped_ = false;
  int rounds_ = 0;
  int yields_ = 0;
  absl::Duration sleep_ = absl::Microseconds(5);
};

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_BACKOFF_H_
