// What a group's channel has done and holds, from stats(): counters since
// the group was formed, and the memory in use now.
#ifndef FASTVIDEO_DIST_CHANNEL_STATS_H_
#define FASTVIDEO_DIST_CHANNEL_STATS_H_

#include <cstdint>

namespace fastvideo::dist {

struct ChannelStats {
  uint64_t bytes_in_use = 0;          // data blocks not yet reclaimed
  uint64_t peak_bytes_in_use = 0;
  uint64_t entries_in_use = 0;        // published messages not yet reclaimed
  uint64_t objects_sent = 0;
  uint64_t bytes_sent = 0;
  uint64_t objects_received = 0;
  uint64_t bytes_received = 0;
  uint64_t objects_read_in_place = 0;  // decoded straight from the window
  // Which path messages took (objects_sent / objects_received count all).
  uint64_t objects_sent_pushed = 0;   // into the readers' inboxes
  uint64_t objects_sent_to_self = 0;  // never through the window
  uint64_t objects_sent_pulled_for_credit = 0;  // small, but no credit left
  uint64_t objects_received_pushed = 0;
  uint64_t reclaimed_by_ack = 0;      // chunks and pushed records
  uint64_t reclaimed_bytes_by_ack = 0;
  uint64_t reclaimed_by_expiration = 0;
  uint64_t reclaimed_bytes_by_expiration = 0;
};

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_CHANNEL_STATS_H_
