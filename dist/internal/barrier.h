// WindowBarrier: no member leaves before every member has entered. Members
// signal by storing their barrier count (epoch) into the arrival words of
// peers' segments (protocol in segment_layout.h), with one of the
// algorithms of BarrierAlgorithm, chosen once for the channel.
//
// A barrier that runs out of time stays pending: the next Run resumes it
// rather than entering a new one, so members that gave up and members that
// came late still count the same barriers.
#ifndef FASTVIDEO_DIST_INTERNAL_BARRIER_H_
#define FASTVIDEO_DIST_INTERNAL_BARRIER_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "dist/barrier_algorithm.h"
#include "dist/internal/channel_context.h"
#include "dist/internal/deadline.h"

namespace fastvideo::dist {

// What kAuto means for `world_size` members whose one-sided operations go
// through shared memory (all on one node) or as messages; other values are
// returned as they are.
BarrierAlgorithm ResolveBarrierAlgorithm(BarrierAlgorithm requested, int world_size,
                                         bool shared_memory);

class WindowBarrier {
 public:
  // `algorithm` is resolved (not kAuto) and the same on every member.
  WindowBarrier(const ChannelContext& context, BarrierAlgorithm algorithm)
      : ctx_(context), algorithm_(algorithm) {}

  // DeadlineExceeded names the member waited for.
  absl::Status Run(Deadline deadline);

 private:
  absl::Status RunAllToAll(Deadline& deadline);
  absl::Status RunStar(Deadline& deadline);
  absl::Status RunDissemination(Deadline& deadline);
  // Stores this barrier's epoch into arrival word [rank] of `member`.
  absl::Status Signal(int member);
  // Puts the signals issued on their way (SendAllNow, unless they landed).
  absl::Status SendSignals();
  // Waits until `member`'s arrival word here reaches this epoch (in
  // dissemination: until `round`'s count does); `waiting_for` ends the
  // timeout message.
  absl::Status Await(uint64_t offset, int member, absl::string_view waiting_for,
                     Deadline& deadline);

  const ChannelContext& ctx_;
  const BarrierAlgorithm algorithm_;
  uint64_t epoch_ = 0;   // barriers entered so far, the pending one included
  bool pending_ = false;  // the last one timed out: resume it
  int step_ = 0;          // how far the pending one got (algorithm's own steps)
};

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_BARRIER_H_
