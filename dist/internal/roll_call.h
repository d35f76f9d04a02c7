// Before forming a group over ranks of a parent communicator (MPI_Comm_dup,
// MPI_Comm_create_group), which blocks for ever when a listed rank never
// calls, the listed ranks answer a roll call bounded by a deadline: each
// sends the first listed rank (the leader) a "here"; the leader answers
// every one "go" once all are there, or, at its deadline, the ranks that
// did not come. Point-to-point on `parent`, on a tag near MPI_TAG_UB that
// the group reserves there.
//
// The leader answers by its deadline; the others wait up to 2 s longer for
// that answer. Still, after a failed roll call a rank that came later than
// that may have left a message queued (its "here" at the leader, or the
// leader's answer at it) which the next roll call of the same ranks would
// take for a fresh one: form the next group over a fresh communicator
// (MPI_Comm_dup).
#ifndef FASTVIDEO_DIST_INTERNAL_ROLL_CALL_H_
#define FASTVIDEO_DIST_INTERNAL_ROLL_CALL_H_

#include <mpi.h>

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace fastvideo::dist {

// Called by every rank in `ranks` (ranks of `parent`, this one among them).
// OK once every listed rank has called; DeadlineExceeded naming the ranks
// that did not call before `deadline` (or, for others than the leader,
// naming the leader if it did not answer). `what` prefixes errors.
absl::Status RollCall(MPI_Comm parent, const std::vector<int>& ranks, absl::Time deadline,
                      absl::string_view what);

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_ROLL_CALL_H_
