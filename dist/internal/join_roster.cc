#include "dist/internal/join_roster.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace fastvideo::dist {

JoinRoster::JoinRoster(std::string where, int world_size)
    : where_(std::move(where)), world_size_(world_size), claimed_(world_size, false) {}

absl::Status JoinRoster::Admit(const JoinHello& hello, bool host_job, bool host_can_connect) {
  if (static_cast<int>(hello.world_size) != world_size_) {
    return absl::InvalidArgumentError(
        absl::StrCat(where_, ": rank ", hello.rank, " says world_size ", hello.world_size,
                     ", rank 0 says ", world_size_, "; every caller must pass the same"));
  }
  if (static_cast<int>(hello.rank) >= world_size_) {
    return absl::InvalidArgumentError(absl::StrCat(where_, ": rank ", hello.rank,
                                                   " is outside [0, ", world_size_, ")"));
  }
  if (claimed_[hello.rank]) {
    return absl::InvalidArgumentError(
        absl::StrCat(where_, ": rank ", hello.rank, " is claimed by two callers"));
  }
  auto [job, first] = job_sizes_.try_emplace(hello.job_token, hello.job_size);
  if (job->second != hello.job_size) {
    return absl::InvalidArgumentError(absl::StrCat(where_, ": rank ", hello.rank,
                                                   " says its job has ", hello.job_size,
                                                   " processes, another of that job says ",
                                                   job->second));
  }
  if (!host_job && (!host_can_connect || !(hello.flags & kCanConnectJobs))) {
    return absl::FailedPreconditionError(absl::StrCat(
        where_, ": rank ", hello.rank, " joins from another MPI job, and ",
        host_can_connect ? absl::StrCat("rank ", hello.rank, "'s") : std::string("rank 0's"),
        " MPI runtime cannot connect jobs; start one ompi-server (fastvideo-ompi-server start "
        "--uri FILE) and launch every job with fastvideo-mpilaunch --ompi-server FILE"));
  }
  if (first && !host_job) guest_order_.push_back(hello.job_token);
  claimed_[hello.rank] = true;
  ++joined_;
  return absl::OkStatus();
}

void JoinRoster::Withdraw(uint32_t rank) {
  if (rank < claimed_.size() && claimed_[rank]) {
    claimed_[rank] = false;
    --joined_;
  }
}

std::string JoinRoster::Progress() const {
  std::vector<int> missing;
  for (int rank = 0; rank < world_size_; ++rank) {
    if (!claimed_[rank]) missing.push_back(rank);
  }
  if (missing.size() > 32) missing.resize(32);  // enough to act on
  return absl::StrCat(joined_, " of ", world_size_, " ranks had joined",
                      missing.empty() ? "" : "; missing: ", absl::StrJoin(missing, ","),
                      world_size_ - joined_ > 32 ? ",..." : "");
}

}  // namespace fastvideo::dist
