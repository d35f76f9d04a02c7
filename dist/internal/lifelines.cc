#include "dist/internal/lifelines.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <glog/logging.h>

#include "absl/base/internal/endian.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace fastvideo::dist {
namespace {

constexpr char kNoticeMagic[8] = {'F', 'V', 'D', 'G', 'O', 'N', 'E', '!'};
constexpr size_t kNoticeBytes = 12;

}  // namespace

Lifelines Lifelines::ForRankZero(std::vector<std::pair<int, Socket>> members) {
  return Lifelines(true, std::move(members));
}

Lifelines Lifelines::ToRankZero(Socket rank_zero) {
  std::vector<std::pair<int, Socket>> links;
  links.emplace_back(0, std::move(rank_zero));
  return Lifelines(false, std::move(links));
}

Lifelines::Lifelines(bool rank_zero, std::vector<std::pair<int, Socket>> links)
    : rank_zero_(rank_zero), links_(std::move(links)) {}

absl::Status Lifelines::Check(const std::string& where) {
  if (rank_zero_) {
    CheckAsRankZero();
  } else {
    CheckAsMember();
  }
  if (gone_.empty()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(
      where, ": rank", gone_.size() > 1 ? "s " : " ", absl::StrJoin(gone_, ","),
      gone_.size() > 1 ? " are" : " is",
      " gone (its process ended: its job died or closed the group); Close() this group (it is "
      "abandoned) and form a new one"));
}

void Lifelines::MarkGone(int rank) {
  if (std::find(gone_.begin(), gone_.end(), rank) != gone_.end()) return;
  gone_.push_back(rank);
  std::sort(gone_.begin(), gone_.end());
}

void Lifelines::CheckAsRankZero() {
  std::vector<pollfd> watched;
  for (const auto& [rank, socket] : links_) watched.push_back({socket.fd(), POLLIN, 0});
  if (watched.empty() || poll(watched.data(), watched.size(), 0) <= 0) return;
  std::vector<int> newly_gone;
  for (size_t i = 0; i < links_.size(); ++i) {
    if (watched[i].revents == 0) continue;
    // Members send nothing after their ack: readable means closed.
    newly_gone.push_back(links_[i].first);
    links_[i].second.Close();
  }
  links_.erase(std::remove_if(links_.begin(), links_.end(),
                              [](const auto& link) { return !link.second.valid(); }),
               links_.end());
  for (int rank : newly_gone) {
    MarkGone(rank);
    char notice[kNoticeBytes];
    std::memcpy(notice, kNoticeMagic, sizeof kNoticeMagic);
    absl::little_endian::Store32(notice + 8, static_cast<uint32_t>(rank));
    for (const auto& [member, socket] : links_) {
      // Best effort, never waiting: a member that cannot be told finds out
      // when its own connection closes or its waits time out.
      send(socket.fd(), notice, sizeof notice, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
  }
}

void Lifelines::CheckAsMember() {
  if (links_.empty()) return;
  Socket& socket = links_.front().second;
  while (true) {
    char buffer[64];
    const ssize_t got = recv(socket.fd(), buffer, sizeof buffer, MSG_DONTWAIT);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (got <= 0) {
      MarkGone(0);
      links_.clear();
      return;
    }
    notice_.append(buffer, got);
    while (notice_.size() >= kNoticeBytes) {
      if (std::memcmp(notice_.data(), kNoticeMagic, sizeof kNoticeMagic) != 0) {
        LOG(WARNING) << "rank 0 sent something other than a notice; taking it for gone";
        MarkGone(0);
        links_.clear();
        return;
      }
      MarkGone(static_cast<int>(absl::little_endian::Load32(notice_.data() + 8)));
      notice_.erase(0, kNoticeBytes);
    }
  }
}

}  // namespace fastvideo::dist
