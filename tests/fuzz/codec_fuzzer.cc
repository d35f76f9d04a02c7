// libFuzzer target: every built-in codec decodes bytes from a peer without
// reading out of bounds or crashing; the first byte picks the type. What
// decodes must encode back to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "dist/codec.h"

namespace {

using namespace fastvideo::dist;  // NOLINT: a fuzzer's few lines

template <typename T>
void RoundTrip(absl::string_view payload) {
  absl::StatusOr<T> value = Decode<T>(payload);
  if (!value.ok()) return;
  // Decoding accepted it: the canonical encoding is the same bytes.
  if (Encode(*value) != payload) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 9) {
    case 0: RoundTrip<int32_t>(payload); break;
    case 1: RoundTrip<std::string>(payload); break;
    case 2: RoundTrip<std::vector<double>>(payload); break;
    case 3: RoundTrip<std::vector<std::string>>(payload); break;
    case 4: {
      // A map decodes from keys in any order and encodes them sorted.
      (void)Decode<std::map<std::string, std::vector<int64_t>>>(payload);
      break;
    }
    case 5: RoundTrip<std::tuple<int, std::string, bool, std::optional<double>>>(payload); break;
    case 6: RoundTrip<std::vector<bool>>(payload); break;
    case 7: RoundTrip<std::vector<std::pair<uint8_t, std::array<int16_t, 3>>>>(payload); break;
    case 8: {
      // unordered_map encodes in hash order: only check decoding.
      (void)Decode<std::unordered_map<int, std::string>>(payload);
      break;
    }
  }
  return 0;
}
