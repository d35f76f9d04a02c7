// A "trainer" job and an "inference server" job, launched separately, form
// one group with StatelessProcessGroup::Create(host, port, rank, world_size)
// the way weight synchronization in RL training does: the trainer (group
// rank 0) broadcasts a 128-byte communicator id and the parameters'
// metadata, each server rank answers point to point, then ten "steps" each
// end in a barrier. Both sides print what they got.
//
// Run both jobs with tools/weight_sync_example.sh (bazel run
// //tools:weight_sync_example), or by hand through one ompi-server:
//   fastvideo-ompi-server start --uri /tmp/uri
//   fastvideo-mpilaunch --ompi-server /tmp/uri --np 1 fastvideo-weight-sync --role trainer &
//   fastvideo-mpilaunch --ompi-server /tmp/uri --np 2 fastvideo-weight-sync --role server
#include <cstdio>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "dist/mpi_runtime.h"
#include "dist/stateless_process_group.h"

ABSL_FLAG(std::string, role, "trainer", "trainer (group rank 0) or server (ranks 1..)");
ABSL_FLAG(std::string, host, "127.0.0.1", "where the trainer listens");
ABSL_FLAG(int, port, 29500, "the rendezvous port");
ABSL_FLAG(int, server_ranks, 2, "processes in the server job");
ABSL_FLAG(int, steps, 10, "training steps, each ending in a barrier");
ABSL_FLAG(int, timeout_s, 60, "deadline of forming the group and of each call, seconds");

namespace {

// name -> (shape, dtype), as the trainer describes its parameters.
using Metadata = std::map<std::string, std::tuple<std::vector<int64_t>, std::string>>;

absl::Time Deadline() { return absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_timeout_s)); }

int Fail(const std::string& who, const absl::Status& status) {
  std::fprintf(stderr, "%s: %s\n", who.c_str(), status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  fastvideo::MpiRuntime mpi(&argc, &argv);
  absl::ParseCommandLine(argc, argv);
  const bool trainer = absl::GetFlag(FLAGS_role) == "trainer";
  int job_rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &job_rank);
  const int rank = trainer ? 0 : 1 + job_rank;
  const int world_size = 1 + absl::GetFlag(FLAGS_server_ranks);
  const std::string who = trainer ? "trainer" : absl::StrCat("server rank ", rank);

  auto group = fastvideo::StatelessProcessGroup::Create(
      absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_port), rank, world_size, {}, MPI_COMM_WORLD,
      Deadline());
  if (!group.ok()) return Fail(who, group.status());

  // Bootstrap: the id a device communicator would be built from, then what
  // the weights look like.
  std::string id(128, '\0');
  for (int i = 0; i < 128; ++i) id[i] = static_cast<char>((i * 37 + 11) & 0xff);
  const Metadata metadata = {{"embed.weight", {{32000, 4096}, "bfloat16"}},
                             {"layers.0.attn.qkv.weight", {{12288, 4096}, "bfloat16"}},
                             {"layers.0.mlp.up.weight", {{11008, 4096}, "bfloat16"}}};
  auto got_id = group->broadcast_obj(trainer ? id : std::string(), 0, Deadline());
  if (!got_id.ok()) return Fail(who, got_id.status());
  auto got_metadata = group->broadcast_obj(trainer ? metadata : Metadata(), 0, Deadline());
  if (!got_metadata.ok()) return Fail(who, got_metadata.status());

  if (trainer) {
    for (int server = 1; server < world_size; ++server) {
      auto ready = group->recv_obj<std::map<std::string, int64_t>>(server, Deadline());
      if (!ready.ok()) return Fail(who, ready.status());
      std::printf("trainer: server rank %d loaded %lld parameters\n", server,
                  static_cast<long long>(ready->at("parameters")));
    }
  } else {
    absl::Status sent = group->send_obj(
        std::map<std::string, int64_t>{{"parameters", static_cast<int64_t>(got_metadata->size())}},
        0, Deadline());
    if (!sent.ok()) return Fail(who, sent);
  }
  for (int step = 0; step < absl::GetFlag(FLAGS_steps); ++step) {
    // A weight update would go over the device communicator here.
    if (absl::Status synced = group->barrier(Deadline()); !synced.ok()) return Fail(who, synced);
  }

  std::vector<std::string> names;
  for (const auto& [name, shape_and_dtype] : *got_metadata) {
    names.push_back(absl::StrCat(name, " [", absl::StrJoin(std::get<0>(shape_and_dtype), ","),
                                 "] ", std::get<1>(shape_and_dtype)));
  }
  std::printf("%s: group '%s' rank %d of %d; id of %zu bytes (%s); %zu parameters: %s; %d steps\n",
              who.c_str(), group->name().c_str(), group->rank(), group->world_size(),
              got_id->size(), *got_id == id ? "intact" : "CORRUPT", got_metadata->size(),
              absl::StrJoin(names, ", ").c_str(), absl::GetFlag(FLAGS_steps));
  if (absl::Status closed = group->Close(Deadline()); !closed.ok()) return Fail(who, closed);
  return *got_id == id && *got_metadata == metadata ? 0 : 1;
}
