// WindowBarrier: no member leaves before every member has entered. Members
// signal by storing their barrier count (epoch) into the arrival words of
// peers' segments (protocol in segment_layout.h), with one of the
// algorithms of BarrierAlgorithm, chosen once for the channel.
//
// A barrier that runs out of time stays pending: the next Run resumes it
// rather than entering a new one, so members that gave up and members that
// came late still count the same barriers.
//
// Close meets the same way, but a barrier is met only by barriers: a
// member's Close against another's barrier fails both with
// FailedPrecondition (how, in segment_layout.h), and from then on neither
// waits for anyone.
#ifndef FASTVIDEO_DIST_INTERNAL_BARRIER_H_
#define FASTVIDEO_DIST_INTERNAL_BARRIER_H_

#include <cstdint>
#include <vector>

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

  // barrier(). DeadlineExceeded names the member waited for;
  // FailedPrecondition names a member that closes the group instead (or
  // that found such a mismatch).
  absl::Status Run(Deadline deadline);
  // Close(): OK once every member has met here, each closing, so that
  // the window may be freed collectively. FailedPrecondition: a
  // member called barrier() instead, or found a mismatch: leave with
  // nothing collective. DeadlineExceeded names who did not come.
  absl::Status RunClose(Deadline deadline);

 private:
  enum NoteState : uint64_t { kNoNote = 0, kClosing = 1, kLeft = 3 };

  // Enters (or resumes) this member's next meeting, of the kind closing_ says.
  absl::Status Meet(Deadline deadline);
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
  // Stores (epoch, state) into collective_note[rank] of every peer and
  // completes it there.
  absl::Status Note(NoteState state);
  // Reads every member's note: a mismatch fails (see Mismatch). Once this
  // member has met the others (`met`), a closer also fails on a member
  // that arrived without closing.
  absl::Status CheckNotes(bool met);
  // Records the mismatch `what`, notes kLeft everywhere, returns the error.
  absl::Status Mismatch(absl::string_view what);

  const ChannelContext& ctx_;
  const BarrierAlgorithm algorithm_;
  uint64_t epoch_ = 0;   // barriers entered so far, the pending one included
  bool pending_ = false;  // the last one timed out: resume it
  int step_ = 0;          // how far the pending one got (algorithm's own steps)
  bool closing_ = false;  // the meeting is Close's, not barrier()'s
  absl::Status mismatch_;  // once one was found: every later meeting's answer
  std::vector<uint64_t> notes_;  // CheckNotes' copy of the collective notes
};

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_BARRIER_H_
