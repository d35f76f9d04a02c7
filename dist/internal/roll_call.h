// Before forming a group over ranks of a parent communicator (MPI_Comm_dup,
// MPI_Comm_create_group), which blocks for ever when a listed rank never
// calls, the listed ranks answer a roll call bounded by a deadline: each
// sends the first listed rank (the leader) a "here"; the leader answers
// every one "go" once all are there, or, at its deadline, the ranks that
// did not come. Point-to-point on `parent`, on a tag near MPI_TAG_UB that
// the group reserves there.
//
// After a failed roll call a rank that came late may have left a "here" in
// the leader's queue, which the next roll call of the same ranks would take
// for an answer: form the next group over a fresh communicator.
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
