#include "dist/internal/node_window_turn.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "dist/internal/hash.h"
#include "dist/internal/mpi_error.h"

namespace fastvideo::dist {

std::string NodeWindowTurn::LockPath() {
  // Where osc/rdma puts its segments (its default backing directory).
  struct stat info;
  const char* directory = stat("/dev/shm", &info) == 0 ? "/dev/shm" : "/tmp";
  return absl::StrCat(directory, "/fastvideo_dist.", getuid(), ".window.lock");
}

namespace {

// Whether every member of `comm` is in this process's MPI_COMM_WORLD.
bool WithinOneJob(MPI_Comm comm) {
  MPI_Group members, world;
  MPI_Comm_group(comm, &members);
  MPI_Comm_group(MPI_COMM_WORLD, &world);
  int size = 0;
  MPI_Group_size(members, &size);
  std::vector<int> ranks(size), in_world(size);
  for (int i = 0; i < size; ++i) ranks[i] = i;
  MPI_Group_translate_ranks(members, size, ranks.data(), world, in_world.data());
  MPI_Group_free(&members);
  MPI_Group_free(&world);
  for (int rank : in_world) {
    if (rank == MPI_UNDEFINED) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<NodeWindowTurn>> NodeWindowTurn::Take(MPI_Comm comm,
                                                                     absl::Time deadline) {
  // Segment names hold the job id, so only groups within one job collide;
  // a group spanning jobs (whose windows go through osc/pt2pt, without
  // segments) skips the turn. Every member finds the same answer.
  if (!WithinOneJob(comm)) return std::unique_ptr<NodeWindowTurn>(new NodeWindowTurn(-1));
  // Members by host name, not MPI_COMM_TYPE_SHARED: on a group spanning
  // separately launched jobs, Open MPI 4.1 puts each job's processes of a
  // node apart, and two leaders on one node would wait for each other.
  char host[MPI_MAX_PROCESSOR_NAME] = {};
  int host_length = 0;
  FV_RETURN_IF_MPI_ERROR(MPI_Get_processor_name(host, &host_length));
  // A stable hash: every process must compute the same color.
  const int color = static_cast<int>(Hash64(host, host_length) & 0x7fffffff);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm node;
  FV_RETURN_IF_MPI_ERROR(MPI_Comm_split(comm, color, rank, &node));
  int node_rank = 0;
  MPI_Comm_rank(node, &node_rank);
  // The first member on the node takes the lock; `outcome` tells the others.
  int lock_fd = -1;
  int outcome = 0;  // 0: held, else an errno (ETIMEDOUT: the deadline passed)
  const std::string path = LockPath();
  if (node_rank == 0) {
    lock_fd = open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0) outcome = errno;
    while (outcome == 0 && flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK && errno != EINTR) {
        outcome = errno;
      } else if (absl::Now() >= deadline) {
        outcome = ETIMEDOUT;
      } else {
        absl::SleepFor(absl::Milliseconds(1));  // turns are rare: no hurry
      }
    }
    if (outcome != 0 && lock_fd >= 0) {
      close(lock_fd);
      lock_fd = -1;
    }
  }
  const int shared = MPI_Bcast(&outcome, 1, MPI_INT, 0, node);
  MPI_Comm_free(&node);
  if (shared != MPI_SUCCESS) {
    if (lock_fd >= 0) close(lock_fd);
    return MpiStatus(shared, "MPI_Bcast");
  }
  if (outcome == ETIMEDOUT) {
    return absl::DeadlineExceededError(absl::StrCat(
        "another group on this node held ", path, " (window creation) past the deadline"));
  }
  if (outcome != 0) {
    return absl::InternalError(absl::StrCat("cannot lock ", path, ": ", std::strerror(outcome)));
  }
  return std::unique_ptr<NodeWindowTurn>(new NodeWindowTurn(lock_fd));
}

NodeWindowTurn::~NodeWindowTurn() {
  if (lock_fd_ >= 0) close(lock_fd_);  // closing releases the flock
}

}  // namespace fastvideo::dist
