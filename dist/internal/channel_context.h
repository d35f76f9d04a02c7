// What the parts of a WindowChannel (publisher.h, receiver.h, barrier.h)
// share: the channel's options, the layout of every segment, the Rma layer,
// the counters, and who this member is.
#ifndef FASTVIDEO_DIST_INTERNAL_CHANNEL_CONTEXT_H_
#define FASTVIDEO_DIST_INTERNAL_CHANNEL_CONTEXT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "dist/barrier_algorithm.h"
#include "dist/channel_stats.h"
#include "dist/internal/backoff.h"
#include "dist/internal/rma.h"
#include "dist/internal/segment_layout.h"

namespace fastvideo::dist {

struct ChannelOptions {
  std::string name = "group";
  // The parent rank of each member, named in errors beside the group rank.
  std::vector<int> parent_ranks;
  uint64_t segment_bytes = uint64_t{32} << 20;
  // Descriptors per stream: how many messages to one reader (or broadcasts)
  // may wait unread. 0: a quarter of the segment, from 16 to 1024.
  uint64_t ring_slots = 0;
  uint64_t max_chunk_bytes = 0;  // 0: a quarter of the data area
  // Inbox slots per (writer, stream) and their size (0: AutoInboxSlotBytes):
  // each member's segment holds world_size x 2 x InboxShape::region_bytes()
  // of inboxes.
  InboxShape inbox{16, 0};
  absl::Duration data_expiration = absl::Seconds(3600);
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // Hash every chunk and check it on arrival (DataLoss if it differs). Off
  // by default: descriptors are always sealed, and a reader re-checks a
  // chunk's descriptor after reading it, which catches a chunk that expired
  // (and was reused) while it was being read.
  bool verify_payloads = false;
  // Groups across jobs (see lifelines.h): OK while every member lives, else
  // Unavailable naming who is gone. Waits check it before they touch peers.
  std::function<absl::Status()> peers_alive;
  // kAuto: chosen from the member count, whether all members are on one
  // node, and the MCA settings (see ResolveBarrierAlgorithm).
  BarrierAlgorithm barrier = BarrierAlgorithm::kAuto;
};

struct ChannelContext {
  Rma& rma;
  const SegmentLayout& layout;
  const ChannelOptions& options;
  ChannelStats& stats;
  int rank;
  int world_size;
  bool oversubscribed;  // more ranks on this node than cores

  // "group 'name' rank r/n (parent rank p)"
  std::string Where() const;
  // options.peers_alive(), or OK for a group within one job.
  absl::Status PeersAlive() const {
    return options.peers_alive ? options.peers_alive() : absl::OkStatus();
  }
  // "rank r", with its parent rank when that differs (a subgroup).
  std::string RankName(int rank) const;
};

// One pause of a waiting loop (see Receiver::Idle): what a member does while
// it waits, whichever part waits.
using IdleFn = absl::FunctionRef<absl::Status(Backoff&)>;

uint64_t UnixNanos(absl::Time time);
std::string FormatTime(uint64_t unix_nanos);

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_CHANNEL_CONTEXT_H_
