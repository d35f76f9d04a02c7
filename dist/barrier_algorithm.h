// How a group's barrier() meets (GroupOptions::barrier_algorithm). Every
// member signals by storing its barrier count into words of peers'
// windows, so a barrier costs no MPI collective.
#ifndef FASTVIDEO_DIST_BARRIER_ALGORITHM_H_
#define FASTVIDEO_DIST_BARRIER_ALGORITHM_H_

namespace fastvideo {

enum class BarrierAlgorithm {
  // kAllToAll for 2 members, and up to 16 on one node with shared memory;
  // kStar for up to 64 across nodes (or with mpirun --mca btl tcp,self);
  // kDissemination beyond.
  kAuto,
  // One round: every member signals every other and waits for all of them.
  // Fewest dependent steps, the best when ranks outnumber cores.
  kAllToAll,
  // Members signal member 0, which signals them back once all have come:
  // 2(n-1) messages, the fewest when each costs a message.
  kStar,
  // ceil(log2 n) rounds: in round i a member signals member (rank + 2^i)
  // and waits for member (rank - 2^i). Scales to many members.
  kDissemination,
};

}  // namespace fastvideo

#endif  // FASTVIDEO_DIST_BARRIER_ALGORITHM_H_
