// libFuzzer target: tensors and pickled c10::IValues from a peer decode or
// fail cleanly; the first byte picks which.
#include <cstddef>
#include <cstdint>

#include "dist/torch_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    (void)fastvideo::dist::Decode<at::Tensor>(payload);
  } else {
    (void)fastvideo::dist::Decode<c10::IValue>(payload);
  }
  return 0;
}
