// How the members of a cross-job group learn that one is gone. Open MPI
// 4.1 cannot tell a process that a peer in another job died: a one-sided
// operation towards it blocks for ever in the TCP transport. So the
// rendezvous connections stay open for the group's lifetime: rank 0 holds
// one to every other member, each of them one to rank 0. A connection that
// closes means its process ended; rank 0 tells the others which rank that
// was (a 12-byte notice, "FVDGONE!" + rank). Members check (a poll(), no
// waiting) before each call and while they wait, and never touch a member
// they know is gone.
#ifndef FASTVIDEO_DIST_INTERNAL_LIFELINES_H_
#define FASTVIDEO_DIST_INTERNAL_LIFELINES_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "dist/internal/tcp_socket.h"

namespace fastvideo::dist {

class Lifelines {
 public:
  // Rank 0's: its connection to each other member, by group rank.
  static Lifelines ForRankZero(std::vector<std::pair<int, Socket>> members);
  // Another member's: its connection to rank 0.
  static Lifelines ToRankZero(Socket rank_zero);

  // Reads what has arrived without waiting. OK while no member is known
  // gone; otherwise Unavailable naming them, `where` first.
  absl::Status Check(const std::string& where);
  const std::vector<int>& gone() const { return gone_; }

 private:
  Lifelines(bool rank_zero, std::vector<std::pair<int, Socket>> links);
  void MarkGone(int rank);
  void CheckAsRankZero();
  void CheckAsMember();

  bool rank_zero_;
  std::vector<std::pair<int, Socket>> links_;  // (group rank, connection)
  std::string notice_;                         // a member's partial notice
  std::vector<int> gone_;
};

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_LIFELINES_H_
