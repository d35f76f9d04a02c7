// Ledger: the expiration bookkeeping of what a member has published — the
// original's store entries. One entry per message, with its key and
// publication time, live while any part of it (a chunk in the data area, a
// record in a reader's inbox, a message to self) is still held for a
// reader. entries() lists the live ones, oldest first.
#ifndef FASTVIDEO_DIST_INTERNAL_LEDGER_H_
#define FASTVIDEO_DIST_INTERNAL_LEDGER_H_

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "dist/channel_stats.h"
#include "dist/message_key.h"

namespace fastvideo::dist {

class Ledger {
 public:
  // Keeps stats.entries_in_use and the reclaimed_* counters.
  explicit Ledger(ChannelStats& stats) : stats_(stats) {}

  // The id the next Open returns.
  uint64_t next_id() const { return first_id_ + entries_.size(); }
  // A message whose publication starts: kept until Close(), even if every
  // part of it is read meanwhile.
  uint64_t Open(const MessageKey& key, absl::Time time);
  // Entry `id` holds `parts` more parts for readers.
  void AddParts(uint64_t id, uint64_t parts);
  // One part of entry `id`, of `bytes`, is no longer held.
  void Release(uint64_t id, uint64_t bytes, bool by_expiration);
  // Publication of entry `id` is over (done or withdrawn).
  void Close(uint64_t id);

  // Ids of the live entries published before `cutoff`, oldest first.
  std::vector<uint64_t> LiveBefore(absl::Time cutoff) const;
  std::vector<std::pair<std::string, absl::Time>> entries() const;

 private:
  struct Entry {
    MessageKey key;
    absl::Time time;
    uint64_t parts = 0;
    bool open = true;
  };
  Entry& at(uint64_t id) { return entries_[id - first_id_]; }
  void PopFinished();

  ChannelStats& stats_;
  std::deque<Entry> entries_;
  uint64_t first_id_ = 0;
};

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_LEDGER_H_
