// libFuzzer target: tensors from a peer decode or fail cleanly. (The
// c10::IValue decoder has its own target, ivalue_fuzzer.cc.)
#include <cstddef>
#include <cstdint>

#include "dist/torch_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
  (void)fastvideo::dist::Decode<at::Tensor>(payload);
  return 0;
}
