#include "dist/internal/roll_call.h"

#include <algorithm>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "dist/internal/backoff.h"
#include "dist/internal/mpi_error.h"

namespace fastvideo::dist {
namespace {

// How much longer than its deadline a listed rank waits for the leader's
// answer (the leader's clock started at its own call).
constexpr absl::Duration kAnswerGrace = absl::Seconds(2);

// Ranks lists are told apart by tag, so that roll calls of different groups
// with the same leader do not take each other's messages.
int RollCallTag(MPI_Comm parent, const std::vector<int>& ranks) {
  int* tag_ub = nullptr;
  int found = 0;
  MPI_Comm_get_attr(parent, MPI_TAG_UB, &tag_ub, &found);
  const int upper = found && tag_ub ? *tag_ub : 32767;
  uint64_t hash = 17;
  for (int rank : ranks) hash = hash * 31 + static_cast<uint64_t>(rank);
  return upper - 1 - static_cast<int>(hash % 1024);
}

// Waits for `requests` until all complete or `deadline`; which completed
// (and how, in `statuses` if given).
absl::StatusOr<std::vector<bool>> WaitAll(std::vector<MPI_Request>& requests,
                                          absl::Time deadline,
                                          std::vector<MPI_Status>* statuses = nullptr) {
  std::vector<bool> done(requests.size(), false);
  if (statuses) statuses->resize(requests.size());
  size_t remaining = requests.size();
  Backoff backoff(/*oversubscribed=*/true);
  while (remaining > 0) {
    for (size_t i = 0; i < requests.size(); ++i) {
      if (done[i]) continue;
      int flag = 0;
      FV_RETURN_IF_MPI_ERROR(
          MPI_Test(&requests[i], &flag, statuses ? &(*statuses)[i] : MPI_STATUS_IGNORE));
      if (flag) {
        done[i] = true;
        --remaining;
      }
    }
    if (remaining == 0 || absl::Now() >= deadline) break;
    backoff.Pause();
  }
  return done;
}

void CancelPending(std::vector<MPI_Request>& requests, const std::vector<bool>& done) {
  for (size_t i = 0; i < requests.size(); ++i) {
    if (done[i]) continue;
    MPI_Cancel(&requests[i]);
    MPI_Wait(&requests[i], MPI_STATUS_IGNORE);
  }
}

absl::Status Lead(MPI_Comm parent, const std::vector<int>& ranks, int tag, absl::Time deadline,
                  absl::string_view what) {
  const int others = static_cast<int>(ranks.size()) - 1;
  std::vector<MPI_Request> here(others);
  std::vector<int> unused(others);
  for (int i = 0; i < others; ++i) {
    FV_RETURN_IF_MPI_ERROR(MPI_Irecv(&unused[i], 1, MPI_INT, ranks[i + 1], tag, parent, &here[i]));
  }
  absl::StatusOr<std::vector<bool>> came = WaitAll(here, deadline);
  if (!came.ok()) return came.status();
  CancelPending(here, *came);
  // The verdict: an empty list is "go", else the ranks that did not come.
  std::vector<int> missing;
  for (int i = 0; i < others; ++i) {
    if (!(*came)[i]) missing.push_back(ranks[i + 1]);
  }
  for (int i = 0; i < others; ++i) {
    if (!(*came)[i]) continue;
    FV_RETURN_IF_MPI_ERROR(MPI_Send(missing.data(), static_cast<int>(missing.size()), MPI_INT,
                                    ranks[i + 1], tag, parent));
  }
  if (missing.empty()) return absl::OkStatus();
  return absl::DeadlineExceededError(absl::StrCat(
      what, ": rank", missing.size() > 1 ? "s " : " ", absl::StrJoin(missing, ","),
      " of the parent did not call before the deadline (", others + 1 - missing.size(), " of ",
      others + 1, " listed ranks did)"));
}

absl::Status Answer(MPI_Comm parent, const std::vector<int>& ranks, int tag, absl::Time deadline,
                    absl::string_view what) {
  const int leader = ranks.front();
  const int present = 1;
  MPI_Request here;
  std::vector<MPI_Request> verdict(1);
  std::vector<int> missing(ranks.size());
  FV_RETURN_IF_MPI_ERROR(MPI_Isend(&present, 1, MPI_INT, leader, tag, parent, &here));
  FV_RETURN_IF_MPI_ERROR(MPI_Irecv(missing.data(), static_cast<int>(missing.size()), MPI_INT,
                                   leader, tag, parent, &verdict[0]));
  // The leader answers by its own deadline; waiting a little longer for
  // its answer keeps it from being left queued, where the next roll call
  // of these ranks would take it.
  std::vector<MPI_Status> statuses;
  absl::StatusOr<std::vector<bool>> answered =
      WaitAll(verdict, deadline + kAnswerGrace, &statuses);
  if (!answered.ok()) return answered.status();
  CancelPending(verdict, *answered);
  // The "here" went out eagerly; if the leader never takes it, it stays
  // queued there (see roll_call.h).
  MPI_Request_free(&here);
  if (!(*answered)[0]) {
    return absl::DeadlineExceededError(absl::StrCat(
        what, ": rank ", leader, " of the parent (the first listed) did not call before the "
        "deadline"));
  }
  int count = 0;
  MPI_Get_count(&statuses[0], MPI_INT, &count);
  if (count == 0) return absl::OkStatus();
  missing.resize(count);
  return absl::DeadlineExceededError(absl::StrCat(
      what, ": rank", count > 1 ? "s " : " ", absl::StrJoin(missing, ","),
      " of the parent did not call before the deadline"));
}

}  // namespace

absl::Status RollCall(MPI_Comm parent, const std::vector<int>& ranks, absl::Time deadline,
                      absl::string_view what) {
  if (ranks.size() < 2) return absl::OkStatus();
  int rank = 0;
  FV_RETURN_IF_MPI_ERROR(MPI_Comm_rank(parent, &rank));
  const int tag = RollCallTag(parent, ranks);
  return rank == ranks.front() ? Lead(parent, ranks, tag, deadline, what)
                               : Answer(parent, ranks, tag, deadline, what);
}

}  // namespace fastvideo::dist
