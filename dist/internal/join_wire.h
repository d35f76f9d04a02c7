// The bytes of the cross-job rendezvous (StatelessProcessGroup::Create with
// host and port): what a joining process sends the listener, and what the
// listener answers. Both start with a magic and a version; the hello has a
// fixed size, so the listener reads exactly kHelloBytes from a connection
// and drops anything that does not decode. Nothing here is executed or
// deserialized beyond these fixed fields.
//
// hello (40 bytes, little-endian):
//   magic "FVDJOIN1" | version u32 | world_size u32 | rank u32 |
//   job_size u32 | job_rank u32 | flags u32 | job_token u64
// reply (28-byte header, then text_bytes of text):
//   magic "FVDREPLY" | version u32 | status code u32 | job_index u32 |
//   job_count u32 | text_bytes u32 (<= kMaxReplyText)
//   The text is the MPI port name when the code is OK (the process connects
//   as the job_index-th of job_count jobs), else the error message.
// ack (the joining job's rank 0, once every member of its job is ready to
// connect; 8 bytes): "FVDREADY".
#ifndef FASTVIDEO_DIST_INTERNAL_JOIN_WIRE_H_
#define FASTVIDEO_DIST_INTERNAL_JOIN_WIRE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fastvideo::dist {

inline constexpr uint32_t kJoinVersion = 1;
inline constexpr size_t kHelloBytes = 40;
inline constexpr size_t kReplyHeaderBytes = 28;
inline constexpr uint32_t kMaxReplyText = 4096;
// Largest group Create(host, port, ...) forms: one connection per process
// to the listener.
inline constexpr uint32_t kMaxJoinWorldSize = 4096;
inline constexpr absl::string_view kJoinAck = "FVDREADY";

// Set in a hello when the sender's MPI runtime can connect to other jobs
// (see CanConnectJobs).
inline constexpr uint32_t kCanConnectJobs = 1;

struct JoinHello {
  uint32_t world_size = 0;
  uint32_t rank = 0;
  // The sender's job: how many of its processes join, which one this is,
  // and a random token they share.
  uint32_t job_size = 0;
  uint32_t job_rank = 0;
  uint32_t flags = 0;
  uint64_t job_token = 0;
};

std::array<char, kHelloBytes> EncodeHello(const JoinHello& hello);
// InvalidArgument naming what is wrong: the magic, the version, a field
// out of range.
absl::StatusOr<JoinHello> DecodeHello(absl::string_view bytes);

struct JoinReplyHeader {
  absl::StatusCode code = absl::StatusCode::kOk;
  uint32_t job_index = 0;
  uint32_t job_count = 0;
  uint32_t text_bytes = 0;
};

// `status` OK: the text is `port_name`; otherwise the status's message.
std::string EncodeReply(const absl::Status& status, uint32_t job_index, uint32_t job_count,
                        absl::string_view port_name);
absl::StatusOr<JoinReplyHeader> DecodeReplyHeader(absl::string_view bytes);

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_JOIN_WIRE_H_
