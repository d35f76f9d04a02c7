// Integer divisibility checks used to partition work across ranks.
//
// Both functions throw c10::Error (libtorch's TORCH_CHECK) on bad input, with
// the message of the Python original: "<n> is not divisible by <d>".
#ifndef FASTVIDEO_DIST_TENSOR_DIVISIBILITY_H_
#define FASTVIDEO_DIST_TENSOR_DIVISIBILITY_H_

#include <cstdint>

namespace fastvideo {

// Throws unless `numerator % denominator == 0`. A zero denominator is an
// error of its own. Signs behave as in Python: -6 is divisible by 3 and -3.
void ensure_divisibility(int64_t numerator, int64_t denominator);

// Checks divisibility as above and returns the exact quotient.
int64_t divide(int64_t numerator, int64_t denominator);

}  // namespace fastvideo

#endif  // FASTVIDEO_DIST_TENSOR_DIVISIBILITY_H_
