// When a blocking call gives up: at a fixed time, or once a timeout has run
// from the moment the call first had to wait. The second form spares calls
// that never wait (most sends and receives of a busy job) a clock read.
#ifndef FASTVIDEO_DIST_INTERNAL_DEADLINE_H_
#define FASTVIDEO_DIST_INTERNAL_DEADLINE_H_

#include <optional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace fastvideo::dist {

class Deadline {
 public:
  static Deadline At(absl::Time time) { return Deadline(time, absl::ZeroDuration()); }
  static Deadline After(absl::Duration timeout) { return Deadline(std::nullopt, timeout); }

  // Reads the clock: whether the deadline has passed. The first call
  // starts an After() timeout.
  bool Passed() {
    const absl::Time now = absl::Now();
    if (!at_) at_ = now + timeout_;
    return now >= *at_;
  }

 private:
  Deadline(std::optional<absl::Time> at, absl::Duration timeout)
      : at_(at), timeout_(timeout) {}

  std::optional<absl::Time> at_;
  absl::Duration timeout_;
};

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_DEADLINE_H_
