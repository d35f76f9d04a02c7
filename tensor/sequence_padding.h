// Sequence-parallel padding: make a sequence length divisible by the number
// of sequence-parallel ranks, and undo it afterwards.
#ifndef FASTVIDEO_DIST_TENSOR_SEQUENCE_PADDING_H_
#define FASTVIDEO_DIST_TENSOR_SEQUENCE_PADDING_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <utility>

namespace fastvideo {

// Returns {padded_seq_len, padding}: the smallest multiple of sp_world_size
// that is >= seq_len, and how much was added. Throws c10::Error for
// seq_len < 0 or sp_world_size <= 0.
std::pair<int64_t, int64_t> compute_padding_for_sp(int64_t seq_len,
                                                   int64_t sp_world_size);

// Appends `pad_value` along `seq_dim` (negative counts from the end) until
// the tensor is `target_seq_len` long. Returns `tensor` itself, not a copy,
// when it is already at least that long. Throws c10::Error for a bad dim.
at::Tensor pad_sequence_tensor(const at::Tensor& tensor, int64_t target_seq_len,
                               int64_t seq_dim = 1, double pad_value = 0.0);

// Returns a view of the first `original_seq_len` elements along `seq_dim`
// (all of them when the tensor is shorter, like a Python slice). Throws
// c10::Error for a bad dim or a negative length.
at::Tensor unpad_sequence_tensor(const at::Tensor& tensor,
                                 int64_t original_seq_len,
                                 int64_t seq_dim = 1);

}  // namespace fastvideo

#endif  // FASTVIDEO_DIST_TENSOR_SEQUENCE_PADDING_H_
