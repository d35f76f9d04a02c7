#include "tensor/sequence_padding.h"

#include <ATen/ATen.h>

#include <algorithm>

namespace fastvideo {
namespace {

// Wraps a possibly negative dim, with an error that names the function.
int64_t checked_dim(const char* function, const at::Tensor& tensor,
                    int64_t dim) {
  TORCH_CHECK(tensor.defined(), function, ": the tensor is undefined");
  const int64_t ndim = tensor.dim();
  TORCH_CHECK(ndim >= 1, function, " needs a tensor with at least one "
              "dimension, got a 0-dim tensor");
  TORCH_CHECK(dim >= -ndim && dim < ndim, function, ": seq_dim ", dim,
              " is out of range for a tensor of ", ndim,
              " dimensions (expected [", -ndim, ", ", ndim - 1, "])");
  return dim < 0 ? dim + ndim : dim;
}

}  // namespace

std::pair<int64_t, int64_t> compute_padding_for_sp(int64_t seq_len,
                                                   int64_t sp_world_size) {
  TORCH_CHECK(sp_world_size > 0,
              "compute_padding_for_sp: sp_world_size must be positive, got ",
              sp_world_size);
  TORCH_CHECK(seq_len >= 0,
              "compute_padding_for_sp: seq_len must be >= 0, got ", seq_len);
  const int64_t remainder = seq_len % sp_world_size;
  const int64_t padding = remainder == 0 ? 0 : sp_world_size - remainder;
  return {seq_len + padding, padding};
}

at::Tensor pad_sequence_tensor(const at::Tensor& tensor, int64_t target_seq_len,
                               int64_t seq_dim, double pad_value) {
  const int64_t dim = checked_dim("pad_sequence_tensor", tensor, seq_dim);
  const int64_t current = tensor.size(dim);
  if (current >= target_seq_len) return tensor;

  std::vector<int64_t> pad_shape = tensor.sizes().vec();
  pad_shape[dim] = target_seq_len - current;
  at::Tensor padding = at::full(pad_shape, pad_value, tensor.options());
  return at::cat({tensor, padding}, dim);
}

at::Tensor unpad_sequence_tensor(const at::Tensor& tensor,
                                 int64_t original_seq_len, int64_t seq_dim) {
  const int64_t dim = checked_dim("unpad_sequence_tensor", tensor, seq_dim);
  TORCH_CHECK(original_seq_len >= 0,
              "unpad_sequence_tensor: original_seq_len must be >= 0, got ",
              original_seq_len);
  return tensor.narrow(dim, 0, std::min(original_seq_len, tensor.size(dim)));
}

}  // namespace fastvideo
