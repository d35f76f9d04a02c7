// The main job: an initialization-time exchange like a video-diffusion run
// does before its first step, on every rank of an mpirun job.
//
//   1. config    rank 0 broadcasts the run configuration (a c10::IValue dict)
//   2. plan      every rank gathers each rank's host, pid and shard plan
//   3. shards    each rank splits the weight tensor along its last dim with
//                the tensor package and sends its neighbour that neighbour's
//                shard, with a checksum
//   4. subgroup  the even ranks form a group of their own and exchange in it,
//                interleaved with world-group traffic
//   5. barrier   everyone waits for everyone
//
// Rank 0 prints one table: what each rank got, pass/fail per check, time per
// step. The exit code is non-zero if any check failed; a rank whose peer
// never answers fails at its deadline, saying whom it waited for and what.
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <torch/torch.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "dist/internal/hash.h"
#include "dist/mpi_runtime.h"
#include "dist/stateless_process_group.h"
#include "dist/torch_codec.h"
#include "tensor/sequence_padding.h"
#include "tensor/split.h"

ABSL_FLAG(int, timeout_seconds, 60, "deadline of every blocking call");
ABSL_FLAG(int, hidden_per_rank, 64, "columns of the weight tensor per rank");

namespace fastvideo {
namespace {

constexpr const char* kSteps[] = {"config", "plan", "shards", "subgroup", "barrier"};

std::string HostName() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return host;
}

// What one rank reports: rank, host, pid, one pass/fail per step, the
// milliseconds each step took, and a line of what it got.
using RankReport = std::tuple<int, std::string, int, std::vector<bool>,
                              std::vector<double>, std::string>;

class Demo {
 public:
  Demo(StatelessProcessGroup world, std::optional<StatelessProcessGroup> evens)
      : world_(std::move(world)), evens_(std::move(evens)) {}

  // Runs the steps; returns false (after saying why) when a call failed.
  bool Run() {
    return Step(0, [&] { return Config(); }) && Step(1, [&] { return Plan(); }) &&
           Step(2, [&] { return Shards(); }) && Step(3, [&] { return Subgroup(); }) &&
           Step(4, [&] { return Barrier(); });
  }

  // Gathers every rank's report on every rank; rank 0 prints the table.
  // Returns the number of failed checks across all ranks.
  int Report() {
    RankReport mine{world_.rank(), HostName(), static_cast<int>(getpid()), passed_,
                    millis_, got_};
    absl::StatusOr<std::vector<RankReport>> all = world_.all_gather_obj(mine, Deadline());
    if (!all.ok()) {
      std::fprintf(stderr, "rank %d: gathering the report failed: %s\n", world_.rank(),
                   all.status().ToString().c_str());
      return 1;
    }
    int failures = 0;
    for (const RankReport& report : *all) {
      for (bool pass : std::get<3>(report)) failures += pass ? 0 : 1;
    }
    if (world_.rank() == 0) Print(*all, failures);
    return failures;
  }

 private:
  absl::Time Deadline() const {
    return absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_timeout_seconds));
  }

  template <typename F>
  bool Step(int index, F&& body) {
    const absl::Time start = absl::Now();
    absl::StatusOr<bool> pass = body();
    millis_.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
    if (!pass.ok()) {
      std::fprintf(stderr, "rank %d: step '%s' failed: %s\n", world_.rank(), kSteps[index],
                   pass.status().ToString().c_str());
      return false;
    }
    passed_.push_back(*pass);
    return true;
  }

  absl::StatusOr<bool> Config() {
    c10::impl::GenericDict config(c10::StringType::get(), c10::AnyType::get());
    if (world_.rank() == 0) {
      config.insert("model", std::string("Wan2.1-T2V-1.3B"));
      config.insert("sp_size", int64_t{world_.world_size()});
      config.insert("num_inference_steps", int64_t{50});
      config.insert("guidance_scale", 5.0);
    }
    absl::StatusOr<c10::IValue> got = world_.broadcast_obj(c10::IValue(config), 0, Deadline());
    if (!got.ok()) return got.status();
    auto dict = got->toGenericDict();
    sp_size_ = dict.at("sp_size").toInt();
    absl::StrAppend(&got_, dict.at("model").toStringRef(), " sp=", sp_size_);
    return sp_size_ == world_.world_size() && dict.at("num_inference_steps").toInt() == 50;
  }

  absl::StatusOr<bool> Plan() {
    const int64_t hidden = absl::GetFlag(FLAGS_hidden_per_rank);
    // Shard plan: [first column, columns] of this rank's tensor-parallel shard.
    const std::tuple<std::string, int, std::vector<int64_t>> mine{
        HostName(), static_cast<int>(getpid()), {world_.rank() * hidden, hidden}};
    auto plans = world_.all_gather_obj(mine, Deadline());
    if (!plans.ok()) return plans.status();
    int64_t next = 0;
    bool contiguous = true;
    for (const auto& [peer_host, pid, plan] : *plans) {
      contiguous &= plan.size() == 2 && plan[0] == next && pid > 0 && !peer_host.empty();
      next += plan.size() == 2 ? plan[1] : 0;
    }
    absl::StrAppend(&got_, ", ", plans->size(), " plans");
    return contiguous && next == hidden * world_.world_size();
  }

  absl::StatusOr<bool> Shards() {
    const int n = world_.world_size(), me = world_.rank();
    const int64_t hidden = absl::GetFlag(FLAGS_hidden_per_rank);
    // The same weights on every rank, so the receiver knows what to expect.
    torch::Tensor weights =
        torch::arange(8 * hidden * n, torch::kFloat).reshape({8, hidden * n}) / 7.0;
    std::vector<torch::Tensor> shards = split_tensor_along_last_dim(weights, n);
    const int next = (me + 1) % n, previous = (me + n - 1) % n;
    torch::Tensor outgoing = shards[next].contiguous();
    const uint64_t checksum = dist::Hash64(outgoing.data_ptr(), outgoing.nbytes());
    if (absl::Status s = world_.send(outgoing, next, Deadline()); !s.ok()) return s;
    if (absl::Status s = world_.send_obj(checksum, next, Deadline()); !s.ok()) return s;
    torch::Tensor incoming = torch::empty({8, hidden});
    if (absl::Status s = world_.recv(incoming, previous, Deadline()); !s.ok()) return s;
    absl::StatusOr<uint64_t> expected = world_.recv_obj<uint64_t>(previous, Deadline());
    if (!expected.ok()) return expected.status();
    const bool intact = dist::Hash64(incoming.data_ptr(), incoming.nbytes()) == *expected;
    absl::StrAppend(&got_, ", shard [8, ", hidden, "] from rank ", previous,
                    intact ? " (checksum ok)" : " (checksum MISMATCH)");
    return intact && torch::equal(incoming, shards[me]);
  }

  absl::StatusOr<bool> Subgroup() {
    const int n = world_.world_size(), me = world_.rank();
    bool pass = true;
    // World traffic goes out first and is read last, around the subgroup's.
    if (absl::Status s = world_.send_obj(std::string("world ring"), (me + 1) % n, Deadline());
        !s.ok()) {
      return s;
    }
    if (evens_) {
      const int m = evens_->world_size(), s_me = evens_->rank();
      auto members = evens_->all_gather_obj(me, Deadline());
      if (!members.ok()) return members.status();
      for (int i = 0; i < m; ++i) pass &= (*members)[i] == 2 * i;
      if (absl::Status s = evens_->send_obj(std::string("evens ring"), (s_me + 1) % m, Deadline());
          !s.ok()) {
        return s;
      }
      auto ring = evens_->recv_obj<std::string>((s_me + m - 1) % m, Deadline());
      if (!ring.ok()) return ring.status();
      pass &= *ring == "evens ring";
      absl::StrAppend(&got_, ", evens group of ", m);
    }
    auto ring = world_.recv_obj<std::string>((me + n - 1) % n, Deadline());
    if (!ring.ok()) return ring.status();
    return pass && *ring == "world ring";
  }

  absl::StatusOr<bool> Barrier() {
    if (absl::Status s = world_.barrier(Deadline()); !s.ok()) return s;
    if (evens_) {
      if (absl::Status s = evens_->barrier(Deadline()); !s.ok()) return s;
    }
    // Every reader has read by now: the segment is empty again.
    if (absl::Status s = world_.progress(); !s.ok()) return s;
    return true;
  }

  static void Print(const std::vector<RankReport>& reports, int failures) {
    std::printf("fastvideo_dist demo: %zu ranks\n\n", reports.size());
    std::printf("| rank | host         | pid     |");
    for (const char* step : kSteps) std::printf(" %-13s |", step);
    std::printf(" got\n|------|--------------|---------|");
    for (size_t i = 0; i < std::size(kSteps); ++i) std::printf("---------------|");
    std::printf("----\n");
    for (const auto& [rank, host, pid, passed, millis, got] : reports) {
      std::printf("| %4d | %-12.12s | %7d |", rank, host.c_str(), pid);
      for (size_t i = 0; i < std::size(kSteps); ++i) {
        if (i < passed.size()) {
          std::printf(" %-4s %6.1f ms |", passed[i] ? "pass" : "FAIL", millis[i]);
        } else {
          std::printf(" %-13s |", "-");
        }
      }
      std::printf(" %s\n", got.c_str());
    }
    std::printf("\n%s\n", failures == 0 ? "all checks passed"
                                        : absl::StrCat(failures, " check(s) FAILED").c_str());
  }

  StatelessProcessGroup world_;
  std::optional<StatelessProcessGroup> evens_;
  int64_t sp_size_ = 0;
  std::vector<bool> passed_;
  std::vector<double> millis_;
  std::string got_;
};

int Main() {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  GroupOptions options;
  options.name = "world";
  options.window_bytes = 4 << 20;
  options.default_timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout_seconds));
  absl::StatusOr<StatelessProcessGroup> world =
      StatelessProcessGroup::Create(MPI_COMM_WORLD, options);
  if (!world.ok()) {
    std::fprintf(stderr, "rank %d: %s\n", rank, world.status().ToString().c_str());
    return 1;
  }
  std::optional<StatelessProcessGroup> evens;
  if (rank % 2 == 0) {
    std::vector<int> even_ranks;
    for (int r = 0; r < size; r += 2) even_ranks.push_back(r);
    options.name = "evens";
    absl::StatusOr<StatelessProcessGroup> group =
        StatelessProcessGroup::CreateFromRanks(MPI_COMM_WORLD, even_ranks, options);
    if (!group.ok()) {
      std::fprintf(stderr, "rank %d: %s\n", rank, group.status().ToString().c_str());
      return 1;
    }
    evens = *std::move(group);
  }
  Demo demo(*std::move(world), std::move(evens));
  if (!demo.Run()) return 1;
  return demo.Report() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace fastvideo

int main(int argc, char** argv) {
  fastvideo::MpiRuntime mpi(&argc, &argv);
  absl::ParseCommandLine(argc, argv);
  return fastvideo::Main();
}
