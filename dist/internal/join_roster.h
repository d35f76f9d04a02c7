// What the rendezvous listener knows of who has joined: each hello is
// checked against the group and the hellos before it; the first mismatch is
// the error every caller is told. Pure bookkeeping, no sockets.
#ifndef FASTVIDEO_DIST_INTERNAL_JOIN_ROSTER_H_
#define FASTVIDEO_DIST_INTERNAL_JOIN_ROSTER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "dist/internal/join_wire.h"

namespace fastvideo::dist {

class JoinRoster {
 public:
  // `where` (host:port) prefixes every error.
  JoinRoster(std::string where, int world_size);

  // Claims hello.rank. InvalidArgument for another world_size, a rank out
  // of range or already claimed, a job whose processes disagree on its
  // size; FailedPrecondition for a guest (not the listener's own job) when
  // its runtime or the listener's cannot connect jobs.
  absl::Status Admit(const JoinHello& hello, bool host_job, bool host_can_connect);
  // Gives up a claim (its process went away before the group formed).
  void Withdraw(uint32_t rank);

  bool complete() const { return joined_ == world_size_; }
  int joined() const { return joined_; }
  // "2 of 3 ranks had joined; missing: 1"
  std::string Progress() const;

  // The jobs other than the listener's, in order of first arrival.
  const std::vector<uint64_t>& guest_jobs() const { return guest_order_; }

 private:
  std::string where_;
  int world_size_;
  int joined_ = 0;
  std::vector<bool> claimed_;
  absl::flat_hash_map<uint64_t, uint32_t> job_sizes_;
  std::vector<uint64_t> guest_order_;
};

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_JOIN_ROSTER_H_
