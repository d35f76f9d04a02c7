// libFuzzer target: pickled c10::IValues from a peer. Our checks (zip
// records, pickle lengths and memo indices) run before libtorch's
// pickle_load; inputs that get past them and crash inside libtorch are kept
// in known_libtorch_crashes/. Run by hand: FUZZ_TARGETS=ivalue
// tests/fuzz/run_fuzzers.sh 60. CI does not run it while such inputs exist.
#include <cstddef>
#include <cstdint>

#include "dist/torch_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
  (void)fastvideo::dist::Decode<c10::IValue>(payload);
  return 0;
}
