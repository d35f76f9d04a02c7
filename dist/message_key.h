// The key of a published message: (kind, source, destination, sequence),
// printed in the store style of the Python original, e.g.
// "send_to/3/from/1/#7" or "broadcast_from/0/#2".
#ifndef FASTVIDEO_DIST_MESSAGE_KEY_H_
#define FASTVIDEO_DIST_MESSAGE_KEY_H_

#include <cstdint>
#include <string>

namespace fastvideo::dist {

// What a message is. Descriptors and inbox records carry it, so that a
// reader notices a mismatched call (e.g. a broadcast_obj on one rank
// against an all_gather_obj on another).
enum class MessageKind : uint64_t {
  kSend = 1,
  kBroadcast = 2,
  kAllGather = 3,
};

// The call that sends it: "send_obj", "broadcast_obj", "all_gather_obj".
const char* MessageKindName(MessageKind kind);

struct MessageKey {
  static constexpr int kEveryRank = -1;  // destination of a broadcast

  MessageKind kind;
  int src;
  int dst;  // kEveryRank for broadcast and all_gather
  uint64_t seq;

  std::string ToString() const;
};

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_MESSAGE_KEY_H_
