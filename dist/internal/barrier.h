// DisseminationBarrier: no member leaves before every member has entered.
// ceil(log2 n) rounds; in round i a member adds 1 to barrier word i of
// member (rank + 2^i) mod n and waits, polling its own word i, until it
// has reached this barrier's epoch (protocol in segment_layout.h).
#ifndef FASTVIDEO_DIST_INTERNAL_BARRIER_H_
#define FASTVIDEO_DIST_INTERNAL_BARRIER_H_

#include <cstdint>

#include "absl/status/status.h"
#include "dist/internal/channel_context.h"
#include "dist/internal/deadline.h"

namespace fastvideo::dist {

class DisseminationBarrier {
 public:
  explicit DisseminationBarrier(const ChannelContext& context) : ctx_(context) {}

  // DeadlineExceeded names the round and the member not yet arrived.
  absl::Status Run(Deadline deadline);

 private:
  absl::Status AwaitRound(int round, int from, Deadline& deadline);

  const ChannelContext& ctx_;
  uint64_t epoch_ = 0;  // barriers run so far
};

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_BARRIER_H_
