#include "dist/message_key.h"

#include "absl/strings/str_cat.h"

namespace fastvideo::dist {

const char* MessageKindName(MessageKind kind) {
  switch (kind) {
    case MessageKind::kSend:
      return "send_obj";
    case MessageKind::kBroadcast:
      return "broadcast_obj";
    case MessageKind::kAllGather:
      return "all_gather_obj";
  }
  return "unknown";
}

std::string MessageKey::ToString() const {
  switch (kind) {
    case MessageKind::kSend:
      return absl::StrCat("send_to/", dst, "/from/", src, "/#", seq);
    case MessageKind::kBroadcast:
      return absl::StrCat("broadcast_from/", src, "/#", seq);
    case MessageKind::kAllGather:
      return absl::StrCat("all_gather_from/", src, "/#", seq);
  }
  return absl::StrCat("unknown/", src, "/", dst, "/#", seq);
}

}  // namespace fastvideo::dist
