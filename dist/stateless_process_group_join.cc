// StatelessProcessGroup::Create(host, port, rank, world_size): the original's
// entry point, over a TCP rendezvous (dist/internal/join_*) and MPI
// connect/accept between jobs (dist/internal/job_merge).
#include <glog/logging.h>

#include <memory>
#include <numeric>
#include <optional>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "dist/internal/job_merge.h"
#include "dist/internal/join_listener.h"
#include "dist/internal/join_wire.h"
#include "dist/internal/lifelines.h"
#include "dist/internal/mpi_error.h"
#include "dist/internal/tcp_socket.h"
#include "dist/stateless_process_group.h"

namespace fastvideo {
namespace {

using dist::JoinHello;

// What joining gives a process: the communicator of all members (to be
// reordered), and its lifelines to them.
struct Joined {
  MPI_Comm comm = MPI_COMM_NULL;
  std::shared_ptr<dist::Lifelines> lifelines;
};

// This process's job as its members see it (collective over `job`).
struct JobView {
  MPI_Comm comm = MPI_COMM_NULL;  // owned: a duplicate of `job`
  int job_rank = 0;
  // Every member's hello, by job rank.
  std::vector<JoinHello> hellos;
  // The job rank of the member that is group rank 0, if this job has it.
  std::optional<int> listener;

  ~JobView() {
    if (comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
  }
};

absl::Status SurveyJob(MPI_Comm job, int rank, int world_size, uint32_t flags, JobView& view) {
  FV_RETURN_IF_MPI_ERROR(MPI_Comm_dup(job, &view.comm));
  MPI_Comm_set_errhandler(view.comm, MPI_ERRORS_RETURN);
  int job_size = 0;
  MPI_Comm_rank(view.comm, &view.job_rank);
  MPI_Comm_size(view.comm, &job_size);
  // Tells this job's processes apart from another job's at the listener.
  uint64_t token = 0;
  if (view.job_rank == 0) {
    std::random_device random;
    token = (uint64_t{random()} << 32) ^ random();
  }
  FV_RETURN_IF_MPI_ERROR(MPI_Bcast(&token, 1, MPI_UINT64_T, 0, view.comm));
  const int mine[2] = {rank, world_size};
  std::vector<int> all(2 * job_size);
  FV_RETURN_IF_MPI_ERROR(MPI_Allgather(mine, 2, MPI_INT, all.data(), 2, MPI_INT, view.comm));
  for (int member = 0; member < job_size; ++member) {
    const int member_rank = all[2 * member], member_world = all[2 * member + 1];
    if (member_world < 1 || member_world > static_cast<int>(dist::kMaxJoinWorldSize) ||
        member_rank < 0 || member_rank >= member_world) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the caller of job rank ", member, " asked for rank ", member_rank,
          " of world_size ", member_world, ": need 0 <= rank < world_size <= ",
          dist::kMaxJoinWorldSize));
    }
    view.hellos.push_back({static_cast<uint32_t>(member_world),
                           static_cast<uint32_t>(member_rank), static_cast<uint32_t>(job_size),
                           static_cast<uint32_t>(member), flags, token});
    if (member_rank == 0) view.listener = member;
  }
  return absl::OkStatus();
}

// The job that holds group rank 0: listens (its other members connect only
// to leave a lifeline), then accepts the other jobs one at a time. Returns
// the merged communicator, the listener first.
absl::StatusOr<Joined> HostGroup(const JobView& view, const std::string& host, int port,
                                 absl::Time deadline, const absl::Status& can_connect) {
  const bool is_listener = view.job_rank == *view.listener;
  MPI_Comm group;
  FV_RETURN_IF_MPI_ERROR(MPI_Comm_split(view.comm, 0, is_listener ? 0 : 1 + view.job_rank, &group));
  std::optional<dist::JoinListener> listener;
  absl::Status status;
  if (is_listener) {
    absl::StatusOr<dist::JoinListener> started = dist::JoinListener::Start(
        host, port, view.hellos.front().world_size, view.hellos, can_connect.ok());
    status = started.status();
    if (status.ok()) listener.emplace(*std::move(started));
  }
  status = dist::BcastStatus(group, 0, status);
  const bool started = status.ok();
  dist::Socket lifeline;
  if (status.ok() && !is_listener) {
    // Best effort: if it fails, the listener names this rank at its deadline.
    absl::StatusOr<dist::Socket> connected = dist::Connect(host, port, deadline);
    if (connected.ok()) {
      const auto bytes = dist::EncodeHello(view.hellos[view.job_rank]);
      if (dist::WriteAll(*connected, {bytes.data(), bytes.size()}, deadline).ok()) {
        lifeline = *std::move(connected);
      }
    }
  }
  int jobs = 0;
  char port_name[MPI_MAX_PORT_NAME] = {};
  if (is_listener && status.ok()) {
    status = listener->AwaitAll(deadline);
    jobs = listener->guest_job_count();
    if (absl::IsFailedPrecondition(status) && !can_connect.ok()) status = can_connect;
    if (status.ok() && jobs > 0) {
      status = dist::MpiStatus(MPI_Open_port(MPI_INFO_NULL, port_name), "MPI_Open_port");
      if (!status.ok()) listener->FailAll(status);
    }
  }
  if (started) status = dist::BcastStatus(group, 0, status);
  if (status.ok()) status = dist::MpiStatus(MPI_Bcast(&jobs, 1, MPI_INT, 0, group), "MPI_Bcast");
  for (int job = 0; status.ok() && job < jobs; ++job) {
    if (is_listener) status = listener->Release(job, port_name, deadline);
    status = dist::BcastStatus(group, 0, status);
    if (!status.ok()) {
      if (is_listener) listener->FailAll(status);
      break;
    }
    absl::StatusOr<MPI_Comm> merged = dist::AcceptJob(group, port_name);
    MPI_Comm_free(&group);
    if (!merged.ok()) return merged.status();
    group = *merged;
  }
  if (is_listener && jobs > 0) MPI_Close_port(port_name);
  if (!status.ok()) {
    MPI_Comm_free(&group);
    return status;
  }
  return Joined{group, std::make_shared<dist::Lifelines>(
                          is_listener ? dist::Lifelines::ForRankZero(listener->TakeLifelines())
                                      : dist::Lifelines::ToRankZero(std::move(lifeline)))};
}

// Sends this process's hello and waits for the listener's answer: the MPI
// port name to connect to as the job_index-th guest job.
absl::StatusOr<std::string> Knock(const std::string& host, int port, const JoinHello& hello,
                                  absl::Time deadline, dist::Socket& socket,
                                  dist::JoinReplyHeader& header) {
  absl::StatusOr<dist::Socket> connected = dist::Connect(host, port, deadline);
  if (!connected.ok()) return connected.status();
  socket = *std::move(connected);
  const auto bytes = dist::EncodeHello(hello);
  absl::Status status = dist::WriteAll(socket, {bytes.data(), bytes.size()}, deadline);
  char header_bytes[dist::kReplyHeaderBytes];
  if (status.ok()) status = dist::ReadExactly(socket, header_bytes, sizeof header_bytes, deadline);
  if (absl::IsDeadlineExceeded(status)) {
    return absl::DeadlineExceededError(
        "joined, but the group did not form before the deadline (rank 0 did not answer)");
  }
  if (!status.ok()) return status;
  absl::StatusOr<dist::JoinReplyHeader> decoded =
      dist::DecodeReplyHeader({header_bytes, sizeof header_bytes});
  if (!decoded.ok()) return absl::DataLossError(decoded.status().message());
  header = *decoded;
  std::string text(header.text_bytes, '\0');
  if (status = dist::ReadExactly(socket, text.data(), text.size(), deadline); !status.ok()) {
    return status;
  }
  if (header.code != absl::StatusCode::kOk) return absl::Status(header.code, text);
  return text;
}

// A job without group rank 0: every member knocks; once all are admitted
// the job connects, then helps accept the jobs released after it.
absl::StatusOr<Joined> JoinGroup(const JobView& view, const std::string& host, int port,
                                 absl::Time deadline, const absl::Status& can_connect) {
  const std::string where = dist::HostPort(host, port);
  dist::Socket socket;
  dist::JoinReplyHeader header;
  absl::StatusOr<std::string> port_name =
      Knock(host, port, view.hellos[view.job_rank], deadline, socket, header);
  absl::Status status = port_name.status();
  if (!status.ok() && !can_connect.ok()) status = can_connect;
  if (!status.ok() && !absl::StartsWith(status.message(), where)) {
    status = absl::Status(status.code(), absl::StrCat(where, ": ", status.message()));
  }
  // The listener accepts this job only after its rank 0 says every member
  // is ready, so that nobody waits in MPI_Comm_accept for a job that failed.
  int ready = status.ok(), all_ready = 0;
  FV_RETURN_IF_MPI_ERROR(MPI_Allreduce(&ready, &all_ready, 1, MPI_INT, MPI_MIN, view.comm));
  if (!all_ready) {
    if (status.ok()) {
      status = absl::UnavailableError(
          absl::StrCat(where, ": another process of this job could not join"));
    }
    return status;  // closing the socket tells the listener
  }
  if (view.job_rank == 0) {
    if (status = dist::WriteAll(socket, dist::kJoinAck, deadline); !status.ok()) return status;
  }
  absl::StatusOr<MPI_Comm> group = dist::ConnectJob(view.comm, *port_name);
  if (!group.ok()) return group.status();
  for (uint32_t job = header.job_index + 1; job < header.job_count; ++job) {
    status = dist::BcastStatus(*group, 0, absl::OkStatus());
    absl::StatusOr<MPI_Comm> merged =
        status.ok() ? dist::AcceptJob(*group, "") : absl::StatusOr<MPI_Comm>(status);
    MPI_Comm_free(&*group);
    if (!merged.ok()) return merged.status();
    group = merged;
  }
  return Joined{
      *group, std::make_shared<dist::Lifelines>(dist::Lifelines::ToRankZero(std::move(socket)))};
}

}  // namespace

absl::StatusOr<StatelessProcessGroup> StatelessProcessGroup::Create(
    const std::string& host, int port, int rank, int world_size, GroupOptions options,
    MPI_Comm job, Deadline deadline) {
  const absl::Time until = deadline.value_or(absl::Now() + options.default_timeout);
  const std::string where = dist::HostPort(host, port);
  absl::Status can_connect = dist::CanConnectJobs();
  if (!can_connect.ok()) {
    can_connect = absl::Status(can_connect.code(), absl::StrCat(where, ": ", can_connect.message()));
  }
  JobView view;
  if (absl::Status status = SurveyJob(job, rank, world_size,
                                      can_connect.ok() ? dist::kCanConnectJobs : 0, view);
      !status.ok()) {
    return absl::Status(status.code(), absl::StrCat(where, ": ", status.message()));
  }
  absl::StatusOr<Joined> joined = view.listener
                                      ? HostGroup(view, host, port, until, can_connect)
                                      : JoinGroup(view, host, port, until, can_connect);
  if (!joined.ok()) return joined.status();
  // Group rank = the rank each caller asked for.
  MPI_Comm ordered;
  const int code = MPI_Comm_split(joined->comm, 0, rank, &ordered);
  MPI_Comm_free(&joined->comm);
  FV_RETURN_IF_MPI_ERROR(code);
  if (options.name.empty()) options.name = where;
  std::vector<int> ranks(world_size);
  std::iota(ranks.begin(), ranks.end(), 0);
  VLOG(1) << where << ": rank " << rank << " of " << world_size << " joined";
  return FromOwnedComm(ordered, std::move(ranks), std::move(options),
                       std::move(joined->lifelines));
}

}  // namespace fastvideo
