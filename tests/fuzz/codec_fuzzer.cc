// libFuzzer target: every built-in codec decodes bytes from a peer without
// reading out of bounds or crashing; the first byte picks the type and how
// much of the payload is "in memory" when it is also read in place (as from
// a peer's window). Both ways must agree, and what decodes must encode back
// to the same bytes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "dist/codec.h"

namespace {

using namespace fastvideo::dist;  // NOLINT: a fuzzer's few lines

class PayloadSource final : public ByteSource {
 public:
  explicit PayloadSource(absl::string_view payload) : payload_(payload) {}
  absl::Status Read(uint64_t offset, void* destination, size_t size) override {
    if (offset + size > payload_.size()) std::abort();  // a read past the end
    std::memcpy(destination, payload_.data() + offset, size);
    return absl::OkStatus();
  }

 private:
  absl::string_view payload_;
};

template <typename T>
absl::StatusOr<T> DecodeBothWays(absl::string_view payload, size_t prefix) {
  absl::StatusOr<T> value = Decode<T>(payload);
  PayloadSource source(payload);
  T in_place{};
  const absl::Status status =
      DecodeInPlace(payload.substr(0, std::min(prefix, payload.size())), payload.size(),
                    source, in_place);
  if (status.code() != value.status().code()) std::abort();
  return value;
}

template <typename T>
void RoundTrip(absl::string_view payload, size_t prefix) {
  absl::StatusOr<T> value = DecodeBothWays<T>(payload, prefix);
  if (!value.ok()) return;
  // Decoding accepted it: the canonical encoding is the same bytes.
  if (Encode(*value) != payload) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t prefix = data[0] / 9 * 37;
  switch (data[0] % 9) {
    case 0: RoundTrip<int32_t>(payload, prefix); break;
    case 1: RoundTrip<std::string>(payload, prefix); break;
    case 2: RoundTrip<std::vector<double>>(payload, prefix); break;
    case 3: RoundTrip<std::vector<std::string>>(payload, prefix); break;
    case 4: {
      // A map decodes from keys in any order and encodes them sorted.
      (void)DecodeBothWays<std::map<std::string, std::vector<int64_t>>>(payload, prefix);
      break;
    }
    case 5:
      RoundTrip<std::tuple<int, std::string, bool, std::optional<double>>>(payload, prefix);
      break;
    case 6: RoundTrip<std::vector<bool>>(payload, prefix); break;
    case 7:
      RoundTrip<std::vector<std::pair<uint8_t, std::array<int16_t, 3>>>>(payload, prefix);
      break;
    case 8: {
      // unordered_map encodes in hash order: only check decoding.
      (void)DecodeBothWays<std::unordered_map<int, std::string>>(payload, prefix);
      break;
    }
  }
  return 0;
}
