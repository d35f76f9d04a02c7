#include "dist/internal/ledger.h"

namespace fastvideo::dist {

uint64_t Ledger::Open(const MessageKey& key, absl::Time time) {
  entries_.push_back({key, time});
  return next_id() - 1;
}

void Ledger::AddParts(uint64_t id, uint64_t parts) {
  Entry& entry = at(id);
  if (entry.parts == 0 && parts > 0) ++stats_.entries_in_use;
  entry.parts += parts;
}

void Ledger::Release(uint64_t id, uint64_t bytes, bool by_expiration) {
  if (by_expiration) {
    ++stats_.reclaimed_by_expiration;
    stats_.reclaimed_bytes_by_expiration += bytes;
  } else {
    ++stats_.reclaimed_by_ack;
    stats_.reclaimed_bytes_by_ack += bytes;
  }
  if (--at(id).parts == 0) {
    --stats_.entries_in_use;
    PopFinished();
  }
}

void Ledger::Close(uint64_t id) {
  at(id).open = false;
  PopFinished();
}

void Ledger::PopFinished() {
  while (!entries_.empty() && entries_.front().parts == 0 && !entries_.front().open) {
    entries_.pop_front();
    ++first_id_;
  }
}

std::vector<uint64_t> Ledger::LiveBefore(absl::Time cutoff) const {
  std::vector<uint64_t> ids;
  for (uint64_t i = 0; i < entries_.size() && entries_[i].time < cutoff; ++i) {
    if (entries_[i].parts > 0) ids.push_back(first_id_ + i);
  }
  return ids;
}

std::vector<std::pair<std::string, absl::Time>> Ledger::entries() const {
  std::vector<std::pair<std::string, absl::Time>> live;
  for (const Entry& entry : entries_) {
    if (entry.parts > 0) live.emplace_back(entry.key.ToString(), entry.time);
  }
  return live;
}

}  // namespace fastvideo::dist
