// One job's side of a cross-job group (StatelessProcessGroup::Create with
// host and port). Run by cross_job_test.sh, which starts an ompi-server and
// two (or more) jobs of this program, each holding some of the group ranks.
//
//   --scenario=exchange  form the group --rounds times on --port; each time
//                        run point to point both ways, broadcast,
//                        all_gather, barrier, a tensor all_reduce and a
//                        --large_bytes object, then Close.
//   --scenario=error     Create must fail with --expect_code, its message
//                        containing --expect_text (and host:port).
//   --scenario=killed    form, exchange; then the job holding group rank
//                        --victim dies (SIGKILL); the others' next calls
//                        fail within their deadline naming it, and they
//                        form a new group on --port2 with a restarted job.
// Exits 0 when every check holds; prints what failed otherwise.
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "dist/mpi_runtime.h"
#include "dist/stateless_process_group.h"

ABSL_FLAG(std::string, scenario, "exchange", "exchange, error or killed");
ABSL_FLAG(std::string, host, "127.0.0.1", "where group rank 0 listens");
ABSL_FLAG(int, port, 0, "the rendezvous port");
ABSL_FLAG(int, port2, 0, "killed: the port of the group formed again");
ABSL_FLAG(int, world_size, 0, "group size");
ABSL_FLAG(std::string, ranks, "", "group rank of each process of this job, by MPI rank");
ABSL_FLAG(int, rounds, 2, "exchange: how many times to form and close the group");
ABSL_FLAG(int64_t, large_bytes, int64_t{100} << 20, "exchange: the large object's size");
ABSL_FLAG(int, timeout_s, 60, "deadline of Create and of every call, seconds");
ABSL_FLAG(std::string, expect_code, "", "error: the absl::StatusCode name Create must fail with");
ABSL_FLAG(std::string, expect_text, "", "error: what its message must contain");
ABSL_FLAG(bool, hold_port, false, "error: bind --port before calling Create (port taken)");
ABSL_FLAG(int, victim, -1, "killed: the group rank whose job dies");
ABSL_FLAG(std::string, victims, "", "killed: every group rank of the victim's job");

namespace {

using fastvideo::StatelessProcessGroup;

int failures = 0;
std::string me;

#define EXPECT_THAT(condition, ...)                                                   \
  do {                                                                                \
    if (!(condition)) {                                                               \
      ++failures;                                                                     \
      std::fprintf(stderr, "%s: FAILED %s: %s\n", me.c_str(), #condition,             \
                   absl::StrCat(__VA_ARGS__).c_str());                                \
    }                                                                                 \
  } while (false)

#define EXPECT_OK(status_expr)                                                        \
  do {                                                                                \
    const absl::Status status_ = (status_expr);                                       \
    EXPECT_THAT(status_.ok(), status_.ToString());                                    \
  } while (false)

absl::Time Deadline() { return absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_timeout_s)); }

int MyGroupRank() {
  int mpi_rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &mpi_rank);
  std::vector<std::string> ranks = absl::StrSplit(absl::GetFlag(FLAGS_ranks), ',');
  int rank = -1;
  if (mpi_rank >= static_cast<int>(ranks.size()) || !absl::SimpleAtoi(ranks[mpi_rank], &rank)) {
    std::fprintf(stderr, "--ranks=%s has no entry for MPI rank %d\n",
                 absl::GetFlag(FLAGS_ranks).c_str(), mpi_rank);
    std::exit(2);
  }
  return rank;
}

absl::StatusOr<StatelessProcessGroup> Form(int port, int rank) {
  fastvideo::GroupOptions options;
  options.default_timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout_s));
  return StatelessProcessGroup::Create(absl::GetFlag(FLAGS_host), port, rank,
                                       absl::GetFlag(FLAGS_world_size), options,
                                       MPI_COMM_WORLD, Deadline());
}

// What the trainer/server pair of the issue does, and the rest of the API.
void Exchange(StatelessProcessGroup& group, int round) {
  const int rank = group.rank(), n = group.world_size();
  const int next = (rank + 1) % n, previous = (rank + n - 1) % n;
  // Point to point, both ways round the ring.
  EXPECT_OK(group.send_obj(absl::StrCat("forward ", rank, " round ", round), next, Deadline()));
  EXPECT_OK(group.send_obj(absl::StrCat("back ", rank, " round ", round), previous, Deadline()));
  auto forward = group.recv_obj<std::string>(previous, Deadline());
  auto back = group.recv_obj<std::string>(next, Deadline());
  EXPECT_THAT(forward.ok() && *forward == absl::StrCat("forward ", previous, " round ", round),
              forward.ok() ? *forward : forward.status().ToString());
  EXPECT_THAT(back.ok() && *back == absl::StrCat("back ", next, " round ", round),
              back.ok() ? *back : back.status().ToString());
  // A 128-byte id, then parameter metadata, from rank 0.
  std::string id(128, '\0');
  for (int i = 0; i < 128; ++i) id[i] = static_cast<char>(i * 7 + round);
  auto got_id = group.broadcast_obj(rank == 0 ? id : std::string(), 0, Deadline());
  EXPECT_THAT(got_id.ok() && *got_id == id, "broadcast of the 128-byte id");
  using Metadata = std::map<std::string, std::vector<int64_t>>;
  const Metadata metadata = {{"layer.0.weight", {4096, 4096}}, {"layer.0.bias", {4096}}};
  auto got_metadata = group.broadcast_obj(rank == 0 ? metadata : Metadata(), 0, Deadline());
  EXPECT_THAT(got_metadata.ok() && *got_metadata == metadata, "broadcast of the metadata");
  auto gathered = group.all_gather_obj(rank * 10 + round, Deadline());
  EXPECT_THAT(gathered.ok(), gathered.status().ToString());
  for (int src = 0; gathered.ok() && src < n; ++src) {
    EXPECT_THAT((*gathered)[src] == src * 10 + round, "all_gather part of rank ", src);
  }
  for (int step = 0; step < 10; ++step) EXPECT_OK(group.barrier(Deadline()));
  at::Tensor tensor = torch::full({4}, static_cast<float>(rank + 1));
  EXPECT_OK(group.all_reduce(tensor, fastvideo::ReduceOp::kSum, Deadline()));
  EXPECT_THAT(torch::allclose(tensor, torch::full({4}, n * (n + 1) / 2.0f)),
              "all_reduce sum: ", tensor[0].item<float>());
  // A large object from the last rank to rank 0.
  const int64_t large = absl::GetFlag(FLAGS_large_bytes);
  if (large > 0 && n > 1) {
    if (rank == n - 1) {
      std::string object(large, '\0');
      for (int64_t i = 0; i < large; i += 4096) object[i] = static_cast<char>(i / 4096 + round);
      EXPECT_OK(group.send_obj(object, 0, Deadline()));
    }
    if (rank == 0) {
      auto object = group.recv_obj<std::string>(n - 1, Deadline());
      bool intact = object.ok() && static_cast<int64_t>(object->size()) == large;
      for (int64_t i = 0; intact && i < large; i += 4096) {
        intact = (*object)[i] == static_cast<char>(i / 4096 + round);
      }
      EXPECT_THAT(intact, "the ", large, "-byte object from rank ", n - 1,
                  object.ok() ? "" : object.status().ToString());
    }
  }
  EXPECT_OK(group.barrier(Deadline()));
}

int RunExchange(int rank) {
  for (int round = 0; round < absl::GetFlag(FLAGS_rounds); ++round) {
    auto group = Form(absl::GetFlag(FLAGS_port), rank);
    EXPECT_THAT(group.ok(), "round ", round, ": ", group.status().ToString());
    if (!group.ok()) return 1;
    EXPECT_THAT(group->rank() == rank && group->world_size() == absl::GetFlag(FLAGS_world_size),
                "rank ", group->rank(), " of ", group->world_size());
    Exchange(*group, round);
    EXPECT_OK(group->Close());
    std::printf("%s: round %d done\n", me.c_str(), round);
  }
  return failures == 0 ? 0 : 1;
}

int RunError(int rank) {
  int held = -1;
  if (absl::GetFlag(FLAGS_hold_port)) {
    held = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(absl::GetFlag(FLAGS_port));
    inet_pton(AF_INET, absl::GetFlag(FLAGS_host).c_str(), &address.sin_addr);
    EXPECT_THAT(bind(held, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                    listen(held, 1) == 0,
                "could not hold the port");
  }
  const absl::Time start = absl::Now();
  auto group = Form(absl::GetFlag(FLAGS_port), rank);
  const absl::Duration took = absl::Now() - start;
  EXPECT_THAT(!group.ok(), "Create succeeded");
  if (!group.ok()) {
    const std::string code = absl::StatusCodeToString(group.status().code());
    const std::string message(group.status().message());
    std::printf("%s: got %s (after %s)\n", me.c_str(), group.status().ToString().c_str(),
                absl::FormatDuration(took).c_str());
    EXPECT_THAT(code == absl::GetFlag(FLAGS_expect_code), "code ", code, ", expected ",
                absl::GetFlag(FLAGS_expect_code));
    EXPECT_THAT(absl::StrContains(message, absl::GetFlag(FLAGS_expect_text)), "message '",
                message, "' lacks '", absl::GetFlag(FLAGS_expect_text), "'");
    EXPECT_THAT(absl::StrContains(message, absl::StrCat(absl::GetFlag(FLAGS_host), ":",
                                                        absl::GetFlag(FLAGS_port))),
                "message '", message, "' does not name host:port");
  }
  if (held >= 0) close(held);
  return failures == 0 ? 0 : 1;
}

// The job holding --victim dies after forming the group with the others;
// they must see errors naming it within their deadlines, close, and form a
// new group on --port2 with its restarted job.
int RunKilled(int rank) {
  const int victim = absl::GetFlag(FLAGS_victim);
  const std::string job_ranks = absl::StrCat(",", absl::GetFlag(FLAGS_ranks), ",");
  const bool dies = absl::StrContains(job_ranks, absl::StrCat(",", victim, ","));
  {
    auto group = Form(absl::GetFlag(FLAGS_port), rank);
    EXPECT_THAT(group.ok(), group.status().ToString());
    if (!group.ok()) return 1;
    // The victim dies once rank 0 is past the barrier (told point to point),
    // so that what fails after is what its death did.
    EXPECT_OK(group->barrier(Deadline()));
    if (rank == 0) EXPECT_OK(group->send_obj(0, victim, Deadline()));
    if (rank == victim) EXPECT_OK(group->recv_obj<int>(0, Deadline()).status());
    if (rank == victim) std::raise(SIGKILL);
    if (dies) {  // mpirun ends the victim's job mates
      (void)group->recv_obj<int>(victim, Deadline());
      return 3;
    }
    const absl::Duration patience = absl::Seconds(5);
    const absl::Time start = absl::Now();
    // The victim's job mates die with it; whichever is seen gone first is named.
    auto names_the_dead = [&](const absl::Status& status) {
      for (absl::string_view dead : absl::StrSplit(absl::GetFlag(FLAGS_victims), ',')) {
        if (absl::StrContains(status.message(), absl::StrCat("rank ", dead, " is gone")) ||
            absl::StrContains(status.message(), "are gone")) {
          return absl::IsUnavailable(status);
        }
      }
      return false;
    };
    auto got = group->recv_obj<int>(victim, absl::Now() + patience);
    EXPECT_THAT(names_the_dead(got.status()), "recv_obj: ", got.status().ToString());
    absl::Status barrier = group->barrier(absl::Now() + patience);
    EXPECT_THAT(names_the_dead(barrier), "barrier: ", barrier.ToString());
    absl::Status closed = group->Close(absl::Now() + patience);
    std::printf("%s: after the victim's death: recv_obj: %s; barrier: %s; Close: %s (%s)\n",
                me.c_str(), got.status().ToString().c_str(), barrier.ToString().c_str(),
                closed.ToString().c_str(), absl::FormatDuration(absl::Now() - start).c_str());
    EXPECT_THAT(absl::IsUnavailable(closed), closed.ToString());
  }
  auto group = Form(absl::GetFlag(FLAGS_port2), rank);
  EXPECT_THAT(group.ok(), "forming again: ", group.status().ToString());
  if (!group.ok()) return 1;
  Exchange(*group, 0);
  EXPECT_OK(group->Close());
  std::printf("%s: formed again with the restarted job\n", me.c_str());
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  fastvideo::MpiRuntime mpi(&argc, &argv);
  absl::ParseCommandLine(argc, argv);
  const int rank = MyGroupRank();
  me = absl::StrCat("group rank ", rank);
  const std::string scenario = absl::GetFlag(FLAGS_scenario);
  if (scenario == "exchange") return RunExchange(rank);
  if (scenario == "error") return RunError(rank);
  if (scenario == "killed") return RunKilled(rank);
  std::fprintf(stderr, "unknown --scenario=%s\n", scenario.c_str());
  return 2;
}
