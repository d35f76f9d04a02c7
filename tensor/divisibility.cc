#include "tensor/divisibility.h"

#include <c10/util/Exception.h>

namespace fastvideo {

void ensure_divisibility(int64_t numerator, int64_t denominator) {
  TORCH_CHECK(denominator != 0, "cannot divide ", numerator,
              " by 0: the denominator must be non-zero");
  TORCH_CHECK(numerator % denominator == 0, numerator,
              " is not divisible by ", denominator);
}

int64_t divide(int64_t numerator, int64_t denominator) {
  ensure_divisibility(numerator, denominator);
  return numerator / denominator;
}

}  // namespace fastvideo
