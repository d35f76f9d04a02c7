// Benchmark: the StatelessProcessGroup channel against raw MPI doing the
// same work in the same run, with the ratio of the two.
//
//   mpirun -np N channel_benchmark [--iterations=K] [--json=FILE]
//
// Rows: small-object (64 B) one-way latency between ranks 0 and 1
// (ping-pong / 2) against MPI_Send/MPI_Recv, and against the floors of a
// pull design (MPI_Get polling) and of a push design (MPI_Put into the
// reader's memory, which polls locally); 1 MiB and 64 MiB bandwidth
// from rank 0 to 1; broadcast, all_gather and barrier latency over all ranks
// against MPI_Bcast, MPI_Allgatherv and MPI_Barrier; forming and closing a
// group with the default window against MPI_Comm_dup + MPI_Win_allocate of
// the same size and their frees ("create"). Each time is the
// slowest rank's mean over the iterations. Latency ratios are
// channel / MPI (lower is better); bandwidth ratios channel / MPI (higher
// is better). Channel and MPI rounds alternate and the median round is kept,
// since this machine's load drifts.
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "dist/mpi_runtime.h"
#include "dist/stateless_process_group.h"

ABSL_FLAG(int, iterations, 2000, "iterations of each latency measurement");
ABSL_FLAG(int, rounds, 5,
          "rounds per row, channel and MPI alternating; the median is kept");
ABSL_FLAG(int, bandwidth_iterations, 20, "messages per bandwidth measurement");
// 512 MiB: a 64 MiB object fits in one chunk (a quarter of the data area)
// and is written and read in place.
ABSL_FLAG(int64_t, window_mib, 512, "window segment per rank, MiB");
ABSL_FLAG(std::string, json, "", "also write the results to this JSON file");
ABSL_FLAG(std::string, measures, "latency,bandwidth,collectives,create",
          "which rows to measure (comma-separated): latency, sweep (p2p latency "
          "from 8 B to 2 MiB), bandwidth, collectives");
ABSL_FLAG(std::string, markdown, "", "also write the table to this Markdown file");
ABSL_FLAG(std::string, sweep_data, "",
          "write the sweep as 'bytes channel_us mpi_us' lines (for gnuplot)");
ABSL_FLAG(int, cross_job_port, 0,
          "cross-job mode: each process is a job of its own, and they form the group with "
          "Create(--cross_job_host, this port, --cross_job_rank, 2); raw MPI runs on the "
          "merged communicator (jobs started with mpilaunch.sh --ompi-server)");
ABSL_FLAG(std::string, cross_job_host, "127.0.0.1", "cross-job mode: where rank 0 listens");
ABSL_FLAG(int, cross_job_rank, 0, "cross-job mode: this process's group rank (0 or 1)");
ABSL_FLAG(bool, verify_payloads, false,
          "hash every chunk and check it (GroupOptions::verify_payloads)");

namespace fastvideo {
namespace {

// Where raw MPI runs and results are gathered: MPI_COMM_WORLD, or in
// cross-job mode (a job per process) a duplicate of the group's merged
// communicator.
MPI_Comm world = MPI_COMM_WORLD;

struct Row {
  std::string name;
  std::string unit;  // "us" or "MB/s"
  double channel = 0;
  double mpi = 0;
  size_t bytes = 0;  // object size of latency rows
  double ratio() const { return mpi == 0 ? 0 : channel / mpi; }
};

void Check(const absl::Status& status) {
  if (!status.ok()) {
    std::fprintf(stderr, "benchmark failed: %s\n", status.ToString().c_str());
    MPI_Abort(world, 1);
  }
}

template <typename T>
T Check(absl::StatusOr<T> value) {
  Check(value.status());
  return *std::move(value);
}

// Seconds per iteration of `body`, the slowest rank's.
double TimePerIteration(int iterations, const std::function<void()>& body) {
  body();  // warm up: first touches, window setup
  MPI_Barrier(world);
  const double start = MPI_Wtime();
  for (int i = 0; i < iterations; ++i) body();
  double elapsed = (MPI_Wtime() - start) / iterations, slowest = 0;
  MPI_Allreduce(&elapsed, &slowest, 1, MPI_DOUBLE, MPI_MAX, world);
  return slowest;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Times `channel` and `mpi` in alternating rounds (so both see the same
// machine load) and returns the median seconds per iteration of each.
std::pair<double, double> Compare(int iterations, const std::function<void()>& channel,
                                  const std::function<void()>& mpi) {
  std::vector<double> channel_times, mpi_times;
  for (int round = 0; round < absl::GetFlag(FLAGS_rounds); ++round) {
    channel_times.push_back(TimePerIteration(iterations, channel));
    mpi_times.push_back(TimePerIteration(iterations, mpi));
  }
  return {Median(channel_times), Median(mpi_times)};
}

// `object` from rank 0 to rank 1 and back through the channel.
void ChannelPingPong(StatelessProcessGroup& group, int rank, const std::string& object,
                     std::string& buffer) {
  if (rank == 0) {
    Check(group.send_obj(object, 1));
    Check(group.recv_obj_into(buffer, 1));
  } else if (rank == 1) {
    Check(group.recv_obj_into(buffer, 0));
    Check(group.send_obj(object, 0));
  }
}

// One-way latency of a `bytes` object between ranks 0 and 1 (ping-pong / 2).
Row P2pLatency(StatelessProcessGroup& group, int rank, int iterations, size_t bytes) {
  const std::string object(bytes, 'x');
  std::string buffer(bytes, '\0');
  const int count = static_cast<int>(bytes);
  auto [channel, mpi] = Compare(
      iterations,
      [&] { ChannelPingPong(group, rank, object, buffer); },
      [&] {
        if (rank == 0) {
          MPI_Send(object.data(), count, MPI_BYTE, 1, 0, world);
          MPI_Recv(buffer.data(), count, MPI_BYTE, 1, 0, world, MPI_STATUS_IGNORE);
        } else if (rank == 1) {
          MPI_Recv(buffer.data(), count, MPI_BYTE, 0, 0, world, MPI_STATUS_IGNORE);
          MPI_Send(object.data(), count, MPI_BYTE, 0, 0, world);
        }
      });
  // Ping-pong: one iteration is two one-way trips.
  return {absl::StrCat("p2p latency, ", bytes, " B"), "us", channel / 2 * 1e6,
          mpi / 2 * 1e6, bytes};
}

// Each rank's slot in a floor measurement: a 64-byte message and its
// sequence number, twice (a put may land torn).
struct FloorSlot {
  uint64_t seq;
  char payload[64];
  uint64_t check;
};

// A one-slot window per rank for the floors, under a passive-target epoch.
class FloorWindow {
 public:
  FloorWindow() {
    MPI_Win_allocate(sizeof(FloorSlot), 1, MPI_INFO_NULL, world, &mine_, &window_);
    std::memset(mine_, 0, sizeof(FloorSlot));
    MPI_Win_lock_all(MPI_MODE_NOCHECK, window_);
    MPI_Win_sync(window_);
    MPI_Barrier(world);
  }
  ~FloorWindow() {
    MPI_Win_unlock_all(window_);
    MPI_Win_free(&window_);
  }
  FloorSlot* mine() const { return mine_; }
  MPI_Win window() const { return window_; }

 private:
  FloorSlot* mine_ = nullptr;
  MPI_Win window_;
};

// The channel's 64-byte ping-pong against a raw one in which ranks 0 and 1
// `send` message number `seq` to `peer` and `await` it from `peer`.
using FloorStep = std::function<void(int peer, uint64_t seq)>;
Row FloorRow(std::string name, StatelessProcessGroup& group, int rank, int iterations,
             const FloorStep& send, const FloorStep& await) {
  const std::string object(64, 'x');
  std::string buffer(64, '\0');
  uint64_t seq = 0;
  auto [channel, floor] = Compare(
      iterations, [&] { ChannelPingPong(group, rank, object, buffer); },
      [&] {
        ++seq;
        if (rank == 0) {
          send(1, seq);
          await(1, seq);
        } else if (rank == 1) {
          await(0, seq);
          send(0, seq);
        }
      });
  return {std::move(name), "us", channel / 2 * 1e6, floor / 2 * 1e6, 64};
}

// The floor of any pull design, in raw MPI: each side stores a 64-byte
// message and a sequence number in its own window, and the peer polls for
// it with MPI_Get + MPI_Win_flush_local (no descriptor, no acknowledgement, no
// encoding).
Row PullFloorLatency(StatelessProcessGroup& group, int rank, int iterations) {
  FloorWindow floor;
  FloorSlot* mine = floor.mine();
  const MPI_Win window = floor.window();
  return FloorRow(
      "p2p 64 B vs MPI_Get polling", group, rank, iterations,
      [&](int, uint64_t seq) {
        std::memset(mine->payload, 'x', sizeof(mine->payload));
        __atomic_store_n(&mine->seq, seq, __ATOMIC_RELEASE);
        MPI_Win_sync(window);
      },
      [&](int peer, uint64_t seq) {
        FloorSlot got{};
        do {
          MPI_Get(&got, sizeof(got), MPI_BYTE, peer, 0, sizeof(got), MPI_BYTE, window);
          MPI_Win_flush_local(peer, window);
        } while (got.seq < seq);
      });
}

// The floor of a push design, in raw MPI: each side puts a 64-byte message,
// its sequence number and a check word into the peer's window with one
// MPI_Put + MPI_Win_flush_local, and the peer polls its own memory
// (MPI_Win_sync lets osc/pt2pt land the put). The channel's small messages
// take this path.
Row PushFloorLatency(StatelessProcessGroup& group, int rank, int iterations) {
  FloorWindow floor;
  FloorSlot* mine = floor.mine();
  const MPI_Win window = floor.window();
  return FloorRow(
      "p2p 64 B vs MPI_Put into the reader", group, rank, iterations,
      [&](int peer, uint64_t seq) {
        FloorSlot slot;
        slot.seq = seq;
        std::memset(slot.payload, 'x', sizeof(slot.payload));
        slot.check = seq;
        MPI_Put(&slot, sizeof(slot), MPI_BYTE, peer, 0, sizeof(slot), MPI_BYTE, window);
        MPI_Win_flush_local(peer, window);
      },
      [&](int, uint64_t seq) {
        while (__atomic_load_n(&mine->seq, __ATOMIC_ACQUIRE) < seq ||
               __atomic_load_n(&mine->check, __ATOMIC_ACQUIRE) < seq) {
          MPI_Win_sync(window);
        }
      });
}

// `messages` objects of `bytes` from rank 0 to rank 1, then one small ack.
Row Bandwidth(StatelessProcessGroup& group, int rank, size_t bytes, int messages) {
  const std::vector<uint8_t> object(bytes, 7);
  std::vector<uint8_t> buffer(bytes);
  auto [channel, mpi] = Compare(
      1,
      [&] {
        if (rank == 0) {
          for (int i = 0; i < messages; ++i) Check(group.send_obj(object, 1));
          Check(group.recv_obj<int>(1));
        } else if (rank == 1) {
          for (int i = 0; i < messages; ++i) Check(group.recv_obj_into(buffer, 0));
          Check(group.send_obj(0, 0));
        }
      },
      [&] {
        int ack = 0;
        if (rank == 0) {
          for (int i = 0; i < messages; ++i) {
            MPI_Send(object.data(), static_cast<int>(bytes), MPI_BYTE, 1, 1,
                     world);
          }
          MPI_Recv(&ack, 1, MPI_INT, 1, 2, world, MPI_STATUS_IGNORE);
        } else if (rank == 1) {
          for (int i = 0; i < messages; ++i) {
            MPI_Recv(buffer.data(), static_cast<int>(bytes), MPI_BYTE, 0, 1,
                     world, MPI_STATUS_IGNORE);
          }
          MPI_Send(&ack, 1, MPI_INT, 0, 2, world);
        }
      });
  const double total = double(bytes) * messages;
  return {absl::StrCat("bandwidth, ", bytes >> 20, " MiB"), "MB/s", total / channel / 1e6,
          total / mpi / 1e6};
}

std::vector<Row> Collectives(StatelessProcessGroup& group, int iterations) {
  const int n = group.world_size();
  const std::string object(64, 'b');
  std::string buffer(64, '\0');
  std::vector<char> gathered(64 * n);
  std::vector<int> counts(n, 64), displacements(n);
  for (int r = 0; r < n; ++r) displacements[r] = 64 * r;
  std::vector<Row> rows;

  int root = 0;  // every rank takes its turn as the root
  auto [broadcast, bcast_mpi] = Compare(
      iterations,
      [&] {
        Check(group.broadcast_obj(object, root));
        root = (root + 1) % n;
      },
      [&] {
        MPI_Bcast(buffer.data(), 64, MPI_BYTE, root, world);
        root = (root + 1) % n;
      });
  rows.push_back({"broadcast latency, 64 B", "us", broadcast * 1e6, bcast_mpi * 1e6});

  auto [all_gather, all_gather_mpi] = Compare(
      iterations, [&] { Check(group.all_gather_obj(object)); },
      [&] {
        MPI_Allgatherv(object.data(), 64, MPI_BYTE, gathered.data(), counts.data(),
                       displacements.data(), MPI_BYTE, world);
      });
  rows.push_back(
      {"all_gather latency, 64 B", "us", all_gather * 1e6, all_gather_mpi * 1e6});

  auto [barrier, barrier_mpi] = Compare(
      iterations, [&] { Check(group.barrier()); },
      [&] { MPI_Barrier(world); });
  rows.push_back({"barrier latency", "us", barrier * 1e6, barrier_mpi * 1e6});
  return rows;
}

// Forming and closing a group of every rank with the default window,
// against the MPI calls any such group needs at least.
Row CreateAndClose(int iterations) {
  const GroupOptions options;
  const MPI_Aint bytes = static_cast<MPI_Aint>(options.window_bytes);
  auto [channel, mpi] = Compare(
      iterations,
      [&] {
        StatelessProcessGroup group = Check(StatelessProcessGroup::Create(world, options));
        Check(group.Close());
      },
      [&] {
        MPI_Comm comm;
        MPI_Comm_dup(world, &comm);
        void* base = nullptr;
        MPI_Win window;
        MPI_Win_allocate(bytes, 1, MPI_INFO_NULL, comm, &base, &window);
        MPI_Win_free(&window);
        MPI_Comm_free(&comm);
      });
  return {absl::StrCat("create + close, ", bytes >> 20, " MiB"), "us", channel * 1e6,
          mpi * 1e6};
}

std::string Table(const std::vector<Row>& rows) {
  std::string table = absl::StrFormat("| %-26s | %12s | %12s | %7s |\n", "measure",
                                      "channel", "raw MPI", "ratio");
  absl::StrAppend(&table, "|", std::string(28, '-'), "|", std::string(14, '-'), "|",
                  std::string(14, '-'), "|", std::string(9, '-'), "|\n");
  for (const Row& row : rows) {
    absl::StrAppendFormat(&table, "| %-26s | %7.1f %-4s | %7.1f %-4s | %6.2fx |\n", row.name,
                          row.channel, row.unit, row.mpi, row.unit, row.ratio());
  }
  return table;
}

void Report(const std::vector<Row>& rows, int ranks) {
  const std::string table = Table(rows);
  std::printf("\nfastvideo_dist channel vs raw MPI, %d ranks\n%s", ranks, table.c_str());
  const std::string markdown_path = absl::GetFlag(FLAGS_markdown);
  if (!markdown_path.empty()) std::ofstream(markdown_path) << table;
  const std::string json_path = absl::GetFlag(FLAGS_json);
  if (json_path.empty()) return;
  std::ofstream json(json_path);
  json << "{\n  \"ranks\": " << ranks << ",\n  \"rows\": [\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    json << absl::StrFormat(
        "    {\"name\": \"%s\", \"unit\": \"%s\", \"channel\": %.3f, \"mpi\": "
        "%.3f, \"ratio\": %.3f}%s\n",
        rows[i].name, rows[i].unit, rows[i].channel, rows[i].mpi, rows[i].ratio(),
        i + 1 < rows.size() ? "," : "");
  }
  json << "  ]\n}\n";
}

int Main() {
  GroupOptions options;
  options.name = "benchmark";
  options.window_bytes = uint64_t(absl::GetFlag(FLAGS_window_mib)) << 20;
  options.verify_payloads = absl::GetFlag(FLAGS_verify_payloads);
  const int cross_job_port = absl::GetFlag(FLAGS_cross_job_port);
  StatelessProcessGroup group = Check(
      cross_job_port > 0
          ? StatelessProcessGroup::Create(absl::GetFlag(FLAGS_cross_job_host), cross_job_port,
                                          absl::GetFlag(FLAGS_cross_job_rank), 2, options)
          : StatelessProcessGroup::Create(MPI_COMM_WORLD, options));
  if (cross_job_port > 0) MPI_Comm_dup(group.comm(), &world);
  int rank = 0, size = 1;
  MPI_Comm_rank(world, &rank);
  MPI_Comm_size(world, &size);
  const int iterations = absl::GetFlag(FLAGS_iterations);
  const std::vector<std::string> measures =
      absl::StrSplit(absl::GetFlag(FLAGS_measures), ',');
  auto wanted = [&](absl::string_view measure) {
    return std::find(measures.begin(), measures.end(), measure) != measures.end();
  };
  std::vector<Row> rows;
  if (size >= 2 && wanted("latency")) {
    rows.push_back(P2pLatency(group, rank, iterations, 64));
    rows.push_back(PullFloorLatency(group, rank, iterations));
    rows.push_back(PushFloorLatency(group, rank, iterations));
  }
  std::vector<Row> sweep;
  if (size >= 2 && wanted("sweep")) {
    // Powers of 8, and 1900 bytes: about the largest object pushed with the
    // default inboxes (2000 bytes of payload, frame included).
    for (size_t bytes : {8, 64, 512, 1900, 4096, 32768, 262144, 2097152}) {
      // Fewer iterations for large objects: the same time per point.
      const int scaled =
          std::max(20, static_cast<int>(iterations * 64 / std::max<size_t>(bytes, 64)));
      sweep.push_back(P2pLatency(group, rank, std::min(iterations, scaled), bytes));
    }
    rows.insert(rows.end(), sweep.begin(), sweep.end());
  }
  if (size >= 2 && wanted("bandwidth")) {
    const int messages = absl::GetFlag(FLAGS_bandwidth_iterations);
    rows.push_back(Bandwidth(group, rank, size_t{1} << 20, messages * 10));
    rows.push_back(Bandwidth(group, rank, size_t{64} << 20, messages));
  }
  if (wanted("collectives")) {
    for (const Row& row : Collectives(group, iterations)) rows.push_back(row);
  }
  if (wanted("create") && cross_job_port == 0) {
    rows.push_back(CreateAndClose(std::max(5, iterations / 100)));
  }
  if (rank == 0) {
    Report(rows, size);
    const std::string sweep_path = absl::GetFlag(FLAGS_sweep_data);
    if (!sweep_path.empty()) {
      std::ofstream data(sweep_path);
      data << "# bytes channel_us mpi_us (" << size << " ranks)\n";
      for (const Row& row : sweep) {
        data << row.bytes << " " << row.channel << " " << row.mpi << "\n";
      }
    }
  }
  return 0;
}

}  // namespace
}  // namespace fastvideo

int main(int argc, char** argv) {
  // As programs using the library initialize MPI (admits osc/pt2pt, which
  // the cross-job mode needs).
  fastvideo::MpiRuntime mpi(&argc, &argv);
  absl::ParseCommandLine(argc, argv);
  return fastvideo::Main();
}
