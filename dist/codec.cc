#include "dist/codec.h"

#include <algorithm>

#include "absl/strings/escaping.h"

namespace fastvideo::dist {
namespace {

// Reads from a ByteSource of at least this many bytes go straight to their
// destination; smaller ones refill the Reader's buffer with at least
// kRefillBytes, so that small fields do not cost a remote read each.
constexpr size_t kDirectReadBytes = size_t{64} << 10;
constexpr size_t kRefillBytes = size_t{256} << 10;

}  // namespace

absl::Status Reader::GetView(size_t size, absl::string_view& view) {
  if (size <= bytes_.size() && !in_buffer_) {
    view = bytes_.substr(0, size);
    bytes_.remove_prefix(size);
    return absl::OkStatus();
  }
  if (size > remaining()) return Truncated(size);
  std::string& copy = *views_.emplace_back(std::make_unique<std::string>(size, '\0'));
  view = copy;
  return GetBytes(copy.data(), size);
}

absl::Status Reader::GetBytesFromSource(void* data, size_t size) {
  if (size > remaining()) return Truncated(size);
  char* out = static_cast<char*>(data);
  const size_t in_memory = bytes_.size();
  if (in_memory > 0) std::memcpy(out, bytes_.data(), in_memory);
  bytes_ = {};
  out += in_memory;
  size -= in_memory;
  const size_t fetch = size >= kDirectReadBytes
                           ? size
                           : std::min<uint64_t>(source_left_, std::max(size, kRefillBytes));
  char* into = out;
  if (fetch != size) {
    buffer_.resize(fetch);
    into = buffer_.data();
  }
  if (absl::Status status = source_->Read(source_at_, into, fetch); !status.ok()) {
    return status;
  }
  source_at_ += fetch;
  source_left_ -= fetch;
  if (into != out) {
    std::memcpy(out, buffer_.data(), size);
    bytes_ = absl::string_view(buffer_).substr(size);
    in_buffer_ = true;
  }
  return absl::OkStatus();
}

namespace codec_internal {

void PutFrameHeader(absl::string_view tag, uint64_t body_bytes, Writer& out) {
  const uint32_t magic = kMagic;
  const uint32_t tag_size = static_cast<uint32_t>(tag.size());
  out.PutBytes(&magic, sizeof(magic));
  out.PutBytes(&tag_size, sizeof(tag_size));
  out.PutBytes(tag.data(), tag.size());
  out.PutU64(body_bytes);
}

size_t BeginFrame(absl::string_view tag, std::string* payload) {
  Writer writer(payload);
  PutFrameHeader(tag, 0, writer);
  return payload->size() - sizeof(uint64_t);
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

absl::Status ReadFrameHeader(Reader& reader, absl::string_view expected_tag) {
  const uint64_t payload_size = reader.remaining();
  uint32_t magic = 0, tag_size = 0;
  if (!reader.GetBytes(&magic, sizeof(magic)).ok() || magic != kMagic) {
    return absl::DataLossError(absl::StrCat(
        "not an object payload (", payload_size,
        " bytes without the frame's magic number) where '", expected_tag,
        "' was expected"));
  }
  absl::string_view tag;
  if (!reader.GetBytes(&tag_size, sizeof(tag_size)).ok() ||
      tag_size > reader.remaining() || !reader.GetView(tag_size, tag).ok()) {
    return absl::DataLossError(absl::StrCat(
        "truncated payload: its type tag does not fit in ", payload_size,
        " bytes"));
  }
  if (tag != expected_tag) {
    // The tag is a peer's bytes: escaped, they cannot garble the message.
    return absl::InvalidArgumentError(
        absl::StrCat("payload holds '", absl::CHexEscape(tag), "' but was received as '",
                     expected_tag, "'"));
  }
  uint64_t body_size = 0;
  if (!reader.GetU64(body_size).ok()) {
    return absl::DataLossError(
        absl::StrCat("truncated '", tag, "' payload: no body length"));
  }
  if (body_size != reader.remaining()) {
    return absl::DataLossError(absl::StrCat(
        "truncated or corrupt '", tag, "' payload: body of ", reader.remaining(),
        " bytes, its header says ", body_size));
  }
  return absl::OkStatus();
}

}  // namespace codec_internal
}  // namespace fastvideo::dist
