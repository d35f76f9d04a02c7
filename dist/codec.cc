#include "dist/codec.h"

namespace fastvideo::dist::codec_internal {

size_t BeginFrame(absl::string_view tag, std::string* payload) {
  Writer writer(payload);
  const uint32_t magic = kMagic;
  const uint32_t tag_size = static_cast<uint32_t>(tag.size());
  writer.PutBytes(&magic, sizeof(magic));
  writer.PutBytes(&tag_size, sizeof(tag_size));
  writer.PutBytes(tag.data(), tag.size());
  const size_t length_at = payload->size();
  writer.PutU64(0);
  return length_at;
}

void EndFrame(size_t length_at, std::string* payload) {
  const uint64_t body_size = payload->size() - length_at - sizeof(uint64_t);
  std::memcpy(payload->data() + length_at, &body_size, sizeof(body_size));
}

std::string Frame(absl::string_view tag, const std::string& body) {
  std::string payload;
  const size_t length_at = BeginFrame(tag, &payload);
  payload.append(body);
  EndFrame(length_at, &payload);
  return payload;
}

absl::StatusOr<absl::string_view> Unframe(absl::string_view payload,
                                          absl::string_view expected_tag) {
  Reader reader(payload, "frame");
  uint32_t magic = 0, tag_size = 0;
  if (!reader.GetBytes(&magic, sizeof(magic)).ok() || magic != kMagic) {
    return absl::DataLossError(absl::StrCat(
        "not an object payload (", payload.size(),
        " bytes without the frame's magic number) where '", expected_tag,
        "' was expected"));
  }
  if (!reader.GetBytes(&tag_size, sizeof(tag_size)).ok() ||
      tag_size > reader.remaining()) {
    return absl::DataLossError(absl::StrCat(
        "truncated payload: its type tag does not fit in ", payload.size(),
        " bytes"));
  }
  const absl::string_view tag = payload.substr(8, tag_size);
  if (tag != expected_tag) {
    return absl::InvalidArgumentError(
        absl::StrCat("payload holds '", tag, "' but was received as '",
                     expected_tag, "'"));
  }
  absl::string_view rest = payload.substr(8 + tag_size);
  uint64_t body_size = 0;
  if (rest.size() < sizeof(body_size)) {
    return absl::DataLossError(
        absl::StrCat("truncated '", tag, "' payload: no body length"));
  }
  std::memcpy(&body_size, rest.data(), sizeof(body_size));
  rest.remove_prefix(sizeof(body_size));
  if (body_size != rest.size()) {
    return absl::DataLossError(absl::StrCat(
        "truncated or corrupt '", tag, "' payload: body of ", rest.size(),
        " bytes, its header says ", body_size));
  }
  return rest;
}

}  // namespace fastvideo::dist::codec_internal
