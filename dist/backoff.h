// Polling with back-off: spin briefly (a reply is often microseconds away),
// then yield the core, then sleep with growing pauses, so that 8 ranks on
// 2 cores still let the rank they wait for run.
#ifndef FASTVIDEO_DIST_BACKOFF_H_
#define FASTVIDEO_DIST_BACKOFF_H_

#include <sched.h>

#include <algorithm>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace fastvideo::dist {

class Backoff {
 public:
  void Pause() {
    ++rounds_;
    if (rounds_ <= kSpinRounds) return;
    if (rounds_ <= kSpinRounds + kYieldRounds) {
      sched_yield();
      return;
    }
    absl::SleepFor(sleep_);
    sleep_ = std::min(sleep_ * 2, kMaxSleep);
  }

 private:
  static constexpr int kSpinRounds = 64;
  static constexpr int kYieldRounds = 256;
  static constexpr absl::Duration kMaxSleep = absl::Microseconds(500);

  int rounds_ = 0;
  absl::Duration sleep_ = absl::Microseconds(5);
};

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_BACKOFF_H_
