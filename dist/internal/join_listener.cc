#include "dist/internal/join_listener.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace fastvideo::dist {
namespace {

// A connection that has not sent its whole hello by then is dropped, so a
// stray client cannot hold the listener.
constexpr absl::Duration kHelloTimeout = absl::Seconds(10);
// Connections that have not sent a hello yet, at most.
constexpr size_t kMaxPending = 256;

std::string RanksOf(const std::vector<JoinHello>& hellos) {
  return absl::StrJoin(hellos, ",", [](std::string* out, const JoinHello& hello) {
    absl::StrAppend(out, hello.rank);
  });
}

}  // namespace

absl::StatusOr<JoinListener> JoinListener::Start(const std::string& host, int port,
                                                 int world_size,
                                                 const std::vector<JoinHello>& own_job,
                                                 bool can_connect_jobs) {
  absl::StatusOr<Socket> socket = Listen(host, port);
  if (!socket.ok()) return socket.status();
  JoinListener listener(HostPort(host, port), *std::move(socket), world_size, can_connect_jobs);
  for (const JoinHello& hello : own_job) {
    if (absl::Status status = listener.roster_.Admit(hello, /*host_job=*/true, can_connect_jobs);
        !status.ok()) {
      return status;
    }
    if (hello.rank != 0) listener.own_members_.push_back(hello.rank);
  }
  listener.own_token_ = own_job.front().job_token;
  return listener;
}

JoinListener::JoinListener(std::string where, Socket listener, int world_size,
                           bool can_connect_jobs)
    : where_(where),
      listener_(std::move(listener)),
      roster_(std::move(where), world_size),
      can_connect_jobs_(can_connect_jobs) {}

absl::Status JoinListener::AwaitAll(absl::Time deadline) {
  while (!roster_.complete() || lifelines_.size() < own_members_.size()) {
    if (absl::Now() >= deadline) {
      absl::Status status = absl::DeadlineExceededError(absl::StrCat(
          where_, ": the group did not form before the deadline: ", roster_.Progress(),
          roster_.complete() ? absl::StrCat(" (but only ", lifelines_.size(), " of ",
                                            own_members_.size(),
                                            " members of rank 0's job connected)")
                             : ""));
      FailAll(status);
      return status;
    }
    std::vector<pollfd> watched = {{listener_.fd(), POLLIN, 0}};
    for (const Pending& pending : pending_) watched.push_back({pending.socket.fd(), POLLIN, 0});
    for (const Joined& joined : joined_) watched.push_back({joined.socket.fd(), POLLIN, 0});
    const absl::Duration wait = std::min(deadline - absl::Now(), absl::Milliseconds(200));
    poll(watched.data(), watched.size(),
         static_cast<int>(std::max<int64_t>(absl::ToInt64Milliseconds(wait), 0)) + 1);
    AcceptNew();
    if (absl::Status status = ReadHellos(); !status.ok()) {
      FailAll(status);
      return status;
    }
    DropLeavers();
  }
  listener_.Close();
  pending_.clear();
  if (absl::Status status = FormJobs(); !status.ok()) {
    FailAll(status);
    return status;
  }
  return absl::OkStatus();
}

void JoinListener::AcceptNew() {
  while (true) {
    absl::StatusOr<Socket> socket = AcceptPending(listener_);
    if (!socket.ok()) {
      LOG(WARNING) << where_ << ": " << socket.status();
      return;
    }
    if (!socket->valid()) return;
    if (pending_.size() >= kMaxPending) {
      LOG(WARNING) << where_ << ": dropped a connection: " << kMaxPending
                   << " others have not sent their hello yet";
      continue;
    }
    pending_.push_back({*std::move(socket), std::string(), absl::Now()});
  }
}

absl::Status JoinListener::ReadHellos() {
  std::vector<Pending> still_pending;
  for (Pending& pending : pending_) {
    char buffer[kHelloBytes];
    const ssize_t got =
        recv(pending.socket.fd(), buffer, kHelloBytes - pending.bytes.size(), MSG_DONTWAIT);
    if (got > 0) pending.bytes.append(buffer, got);
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
      LOG(WARNING) << where_ << ": dropped a connection that closed before its hello";
      continue;
    }
    if (pending.bytes.size() < kHelloBytes) {
      if (absl::Now() - pending.arrived > kHelloTimeout) {
        LOG(WARNING) << where_ << ": dropped a connection that sent " << pending.bytes.size()
                     << " of " << kHelloBytes << " hello bytes in "
                     << absl::FormatDuration(kHelloTimeout);
      } else {
        still_pending.push_back(std::move(pending));
      }
      continue;
    }
    absl::StatusOr<JoinHello> hello = DecodeHello(pending.bytes);
    if (!hello.ok()) {
      LOG(WARNING) << where_ << ": dropped a connection: " << hello.status().message();
      continue;
    }
    if (hello->job_token == own_token_) {
      AdmitOwnJobMember(*hello, std::move(pending.socket));
      continue;
    }
    absl::Status admitted = roster_.Admit(*hello, /*host_job=*/false, can_connect_jobs_);
    joined_.push_back({std::move(pending.socket), *hello});
    if (!admitted.ok()) return admitted;  // the caller tells everyone, this one too
    VLOG(1) << where_ << ": rank " << hello->rank << " joined; " << roster_.Progress();
  }
  pending_ = std::move(still_pending);
  return absl::OkStatus();
}

void JoinListener::AdmitOwnJobMember(const JoinHello& hello, Socket socket) {
  const bool member =
      std::find(own_members_.begin(), own_members_.end(), hello.rank) != own_members_.end();
  const bool known = std::any_of(lifelines_.begin(), lifelines_.end(),
                                 [&](const auto& link) { return link.first == static_cast<int>(hello.rank); });
  if (!member || known) {
    LOG(WARNING) << where_ << ": dropped a connection with rank 0's job token for rank "
                 << hello.rank << (member ? ", which has connected already" : ", not of it");
    return;
  }
  lifelines_.emplace_back(hello.rank, std::move(socket));
}

std::vector<std::pair<int, Socket>> JoinListener::TakeLifelines() {
  return std::move(lifelines_);
}

void JoinListener::DropLeavers() {
  std::vector<Joined> staying;
  for (Joined& joined : joined_) {
    char byte;
    const ssize_t got = recv(joined.socket.fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
      staying.push_back(std::move(joined));
      continue;
    }
    LOG(WARNING) << where_ << ": rank " << joined.hello.rank
                 << (got > 0 ? " sent more than its hello; dropped it" : " went away")
                 << "; its rank is free again";
    roster_.Withdraw(joined.hello.rank);
  }
  joined_ = std::move(staying);
}

absl::Status JoinListener::FormJobs() {
  for (uint64_t token : roster_.guest_jobs()) {
    std::vector<Joined> members;
    for (Joined& joined : joined_) {
      if (joined.socket.valid() && joined.hello.job_token == token) {
        members.push_back(std::move(joined));
      }
    }
    if (members.empty()) continue;  // a job that left; others took its ranks
    std::sort(members.begin(), members.end(), [](const Joined& a, const Joined& b) {
      return a.hello.job_rank < b.hello.job_rank;
    });
    guest_jobs_.push_back(std::move(members));
  }
  joined_.clear();
  for (const std::vector<Joined>& members : guest_jobs_) {
    if (members.size() != members.front().hello.job_size) {
      std::vector<JoinHello> hellos;
      for (const Joined& member : members) hellos.push_back(member.hello);
      return absl::UnavailableError(
          absl::StrCat(where_, ": the job of ranks ", RanksOf(hellos), " lost ",
                       members.front().hello.job_size - members.size(),
                       " of its processes before the group formed"));
    }
  }
  return absl::OkStatus();
}

absl::Status JoinListener::Release(int job, const std::string& port_name, absl::Time deadline) {
  std::vector<Joined>& members = guest_jobs_[job];
  std::vector<JoinHello> hellos;
  for (const Joined& member : members) hellos.push_back(member.hello);
  const std::string reply =
      EncodeReply(absl::OkStatus(), job, static_cast<uint32_t>(guest_jobs_.size()), port_name);
  absl::Status status;
  for (const Joined& member : members) {
    status.Update(WriteAll(member.socket, reply, deadline));
  }
  char ack[kJoinAck.size()];
  if (status.ok()) status = ReadExactly(members.front().socket, ack, sizeof ack, deadline);
  if (status.ok() && absl::string_view(ack, sizeof ack) != kJoinAck) {
    status = absl::DataLossError("it answered something other than its ack");
  }
  if (status.ok()) {
    for (Joined& member : members) {
      lifelines_.emplace_back(member.hello.rank, std::move(member.socket));
    }
    members.clear();
    return status;
  }
  members.clear();  // hang up
  return absl::Status(status.code() == absl::StatusCode::kDeadlineExceeded
                          ? status.code()
                          : absl::StatusCode::kUnavailable,
                      absl::StrCat(where_, ": the job of ranks ", RanksOf(hellos),
                                   " did not get ready to connect: ", status.message()));
}

void JoinListener::FailAll(const absl::Status& status) {
  const std::string reply = EncodeReply(status, 0, 0, "");
  const absl::Time deadline = absl::Now() + absl::Seconds(1);
  auto tell = [&](const Joined& joined) {
    if (!joined.socket.valid()) return;
    absl::Status written = WriteAll(joined.socket, reply, deadline);
    LOG_IF(WARNING, !written.ok()) << where_ << ": could not tell rank " << joined.hello.rank
                                   << " that the group failed: " << written;
  };
  for (const Joined& joined : joined_) tell(joined);
  for (const std::vector<Joined>& members : guest_jobs_) {
    for (const Joined& joined : members) tell(joined);
  }
  joined_.clear();
  guest_jobs_.clear();
  pending_.clear();
  lifelines_.clear();
  listener_.Close();
}

}  // namespace fastvideo::dist
