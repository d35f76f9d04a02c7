// Group rank 0's side of the cross-job rendezvous: listens on host:port,
// reads one fixed-size hello per joining process (see join_wire.h), checks
// it (JoinRoster), and once every rank has joined, releases the other jobs
// one at a time with the MPI port name to connect to. The other members of
// its own job connect too, only to leave a lifeline (a hello with its job's
// token). Anything that is not
// a well-formed hello is dropped with a logged reason; a joined process
// whose connection closes gives its rank back. The listening socket closes
// as soon as the group is complete (or has failed).
#ifndef FASTVIDEO_DIST_INTERNAL_JOIN_LISTENER_H_
#define FASTVIDEO_DIST_INTERNAL_JOIN_LISTENER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dist/internal/join_roster.h"
#include "dist/internal/join_wire.h"
#include "dist/internal/tcp_socket.h"

namespace fastvideo::dist {

class JoinListener {
 public:
  // Listens on host:port for a group of `world_size` ranks, of which
  // `own_job` (the listener's job, rank 0 among them) have joined already.
  static absl::StatusOr<JoinListener> Start(const std::string& host, int port, int world_size,
                                            const std::vector<JoinHello>& own_job,
                                            bool can_connect_jobs);

  // Accepts hellos until every rank has joined (then stops listening).
  // Otherwise (a mismatch, the deadline) tells every joined process the
  // error and returns it.
  absl::Status AwaitAll(absl::Time deadline);

  // The other jobs, in the order they are released.
  int guest_job_count() const { return static_cast<int>(guest_jobs_.size()); }
  // Sends every process of guest job `job` the port name and waits for its
  // job's ack (every member is ready to connect).
  absl::Status Release(int job, const std::string& port_name, absl::Time deadline);
  // Tells every process not yet released `status` and hangs up.
  void FailAll(const absl::Status& status);
  // Once every job is released: the connection to every other member, by
  // group rank, kept open as lifelines (see lifelines.h).
  std::vector<std::pair<int, Socket>> TakeLifelines();

  const std::string& where() const { return where_; }

 private:
  struct Joined {
    Socket socket;
    JoinHello hello;
  };
  struct Pending {
    Socket socket;
    std::string bytes;
    absl::Time arrived;
  };

  JoinListener(std::string where, Socket listener, int world_size, bool can_connect_jobs);
  void AcceptNew();
  // Reads what has arrived on pending connections; admits full hellos.
  absl::Status ReadHellos();
  // A joined process's connection is readable only if it closed or sent
  // what the protocol does not expect: either way it has left.
  void DropLeavers();
  // Groups the joined processes by job once every rank has joined.
  absl::Status FormJobs();

  // A lifeline from a member of the listener's own job.
  void AdmitOwnJobMember(const JoinHello& hello, Socket socket);

  std::string where_;
  Socket listener_;
  uint64_t own_token_ = 0;
  std::vector<uint32_t> own_members_;  // group ranks, but rank 0
  std::vector<std::pair<int, Socket>> lifelines_;
  JoinRoster roster_;
  bool can_connect_jobs_;
  std::vector<Pending> pending_;
  std::vector<Joined> joined_;
  // Per guest job, in release order: its members.
  std::vector<std::vector<Joined>> guest_jobs_;
};

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_JOIN_LISTENER_H_
