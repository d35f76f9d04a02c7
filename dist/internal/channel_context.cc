#include "dist/internal/channel_context.h"

#include "absl/strings/str_cat.h"

namespace fastvideo::dist {

std::string ChannelContext::Where() const {
  std::string where = absl::StrCat("group '", options.name, "' rank ", rank, "/", world_size);
  if (rank < static_cast<int>(options.parent_ranks.size()) && options.parent_ranks[rank] != rank) {
    absl::StrAppend(&where, " (parent rank ", options.parent_ranks[rank], ")");
  }
  return where;
}

std::string ChannelContext::RankName(int r) const {
  if (r >= 0 && r < static_cast<int>(options.parent_ranks.size()) && options.parent_ranks[r] != r) {
    return absl::StrCat("rank ", r, " (parent rank ", options.parent_ranks[r], ")");
  }
  return absl::StrCat("rank ", r);
}

uint64_t UnixNanos(absl::Time time) { return static_cast<uint64_t>(absl::ToUnixNanos(time)); }

std::string FormatTime(uint64_t unix_nanos) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%E3S UTC",
                          absl::FromUnixNanos(static_cast<int64_t>(unix_nanos)),
                          absl::UTCTimeZone());
}

}  // namespace fastvideo::dist
