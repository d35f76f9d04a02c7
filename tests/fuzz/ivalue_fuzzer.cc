// libFuzzer target: c10::IValues from a peer decode or fail cleanly. The
// first byte picks the entry point: even, a whole framed payload through
// Decode<c10::IValue>; odd, raw pickle bytes straight into the plain-data
// unpickler (with two tensors to refer to), which is where the bytes a peer
// controls end up.
#include <cstddef>
#include <cstdint>
#include <vector>

#include <ATen/ATen.h>

#include "dist/internal/plain_unpickler.h"
#include "dist/torch_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    (void)fastvideo::dist::Decode<c10::IValue>(payload);
  } else {
    static const std::vector<at::Tensor> tensors = {at::ones({2}), at::zeros({1, 3})};
    (void)fastvideo::dist::UnpicklePlainData(payload, tensors);
  }
  return 0;
}
