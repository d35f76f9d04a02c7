// libFuzzer target: the bytes a stranger can send the rendezvous listener
// of Create(host, port, ...) (a hello), and what a joining process reads
// back (a reply header). Input: 40 hello bytes, then 28 reply bytes.
// Whatever DecodeHello accepts must encode back to the same bytes (no field
// is ignored), and an accepted reply header must bound its text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "dist/internal/join_wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fastvideo::dist;
  if (size < kHelloBytes + kReplyHeaderBytes) return 0;
  const char* bytes = reinterpret_cast<const char*>(data);
  auto hello = DecodeHello({bytes, kHelloBytes});
  if (hello.ok()) {
    const auto again = EncodeHello(*hello);
    if (std::memcmp(again.data(), bytes, kHelloBytes) != 0) std::abort();
    if (hello->world_size == 0 || hello->world_size > kMaxJoinWorldSize) std::abort();
    if (hello->job_rank >= hello->job_size || hello->job_size > hello->world_size) std::abort();
  }
  auto reply = DecodeReplyHeader({bytes + kHelloBytes, kReplyHeaderBytes});
  if (reply.ok() && reply->text_bytes > kMaxReplyText) std::abort();
  return 0;
}
