#include "dist/internal/join_wire.h"

#include <cstring>

#include "absl/base/internal/endian.h"
#include "absl/strings/str_cat.h"

namespace fastvideo::dist {
namespace {

constexpr absl::string_view kHelloMagic = "FVDJOIN1";
constexpr absl::string_view kReplyMagic = "FVDREPLY";

void Put32(char* at, uint32_t value) { absl::little_endian::Store32(at, value); }
uint32_t Get32(const char* at) { return absl::little_endian::Load32(at); }

absl::Status CheckMagicAndVersion(absl::string_view bytes, absl::string_view magic,
                                  size_t size, const char* what) {
  if (bytes.size() != size) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " of ", bytes.size(), " bytes, expected ", size));
  }
  if (bytes.substr(0, magic.size()) != magic) {
    return absl::InvalidArgumentError(absl::StrCat(what, " without the magic '", magic, "'"));
  }
  const uint32_t version = Get32(bytes.data() + 8);
  if (version != kJoinVersion) {
    return absl::InvalidArgumentError(absl::StrCat(what, " of protocol version ", version,
                                                   ", this library speaks ", kJoinVersion));
  }
  return absl::OkStatus();
}

}  // namespace

std::array<char, kHelloBytes> EncodeHello(const JoinHello& hello) {
  std::array<char, kHelloBytes> bytes{};
  std::memcpy(bytes.data(), kHelloMagic.data(), kHelloMagic.size());
  char* at = bytes.data() + 8;
  for (uint32_t field : {kJoinVersion, hello.world_size, hello.rank, hello.job_size,
                         hello.job_rank, hello.flags}) {
    Put32(at, field);
    at += 4;
  }
  absl::little_endian::Store64(at, hello.job_token);
  return bytes;
}

absl::StatusOr<JoinHello> DecodeHello(absl::string_view bytes) {
  if (absl::Status status = CheckMagicAndVersion(bytes, kHelloMagic, kHelloBytes, "hello");
      !status.ok()) {
    return status;
  }
  const char* at = bytes.data() + 12;
  JoinHello hello;
  hello.world_size = Get32(at);
  hello.rank = Get32(at + 4);
  hello.job_size = Get32(at + 8);
  hello.job_rank = Get32(at + 12);
  hello.flags = Get32(at + 16);
  hello.job_token = absl::little_endian::Load64(at + 20);
  if (hello.world_size == 0 || hello.world_size > kMaxJoinWorldSize) {
    return absl::InvalidArgumentError(absl::StrCat("hello with world_size ", hello.world_size,
                                                   ", outside [1, ", kMaxJoinWorldSize, "]"));
  }
  if (hello.job_size == 0 || hello.job_size > hello.world_size ||
      hello.job_rank >= hello.job_size) {
    return absl::InvalidArgumentError(absl::StrCat("hello with job_rank ", hello.job_rank,
                                                   " of job_size ", hello.job_size,
                                                   " in a world of ", hello.world_size));
  }
  return hello;
}

std::string EncodeReply(const absl::Status& status, uint32_t job_index, uint32_t job_count,
                        absl::string_view port_name) {
  absl::string_view text = status.ok() ? port_name : status.message();
  text = text.substr(0, kMaxReplyText);
  std::string bytes(kReplyHeaderBytes, '\0');
  std::memcpy(bytes.data(), kReplyMagic.data(), kReplyMagic.size());
  char* at = bytes.data() + 8;
  for (uint32_t field : {kJoinVersion, static_cast<uint32_t>(status.code()), job_index,
                         job_count, static_cast<uint32_t>(text.size())}) {
    Put32(at, field);
    at += 4;
  }
  bytes.append(text.data(), text.size());
  return bytes;
}

absl::StatusOr<JoinReplyHeader> DecodeReplyHeader(absl::string_view bytes) {
  if (absl::Status status =
          CheckMagicAndVersion(bytes, kReplyMagic, kReplyHeaderBytes, "reply");
      !status.ok()) {
    return status;
  }
  const char* at = bytes.data() + 12;
  JoinReplyHeader header;
  const uint32_t code = Get32(at);
  header.job_index = Get32(at + 4);
  header.job_count = Get32(at + 8);
  header.text_bytes = Get32(at + 12);
  if (code > static_cast<uint32_t>(absl::StatusCode::kUnauthenticated) ||
      header.text_bytes > kMaxReplyText ||
      (code == 0 && header.job_index >= header.job_count)) {
    return absl::InvalidArgumentError(
        absl::StrCat("reply with code ", code, ", job ", header.job_index, " of ",
                     header.job_count, ", ", header.text_bytes, " bytes of text"));
  }
  header.code = static_cast<absl::StatusCode>(code);
  return header;
}

}  // namespace fastvideo::dist
