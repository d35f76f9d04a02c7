#include "tensor/split.h"

#include <ATen/ATen.h>

#include "tensor/divisibility.h"

namespace fastvideo {

std::vector<at::Tensor> split_tensor_along_last_dim(
    const at::Tensor& tensor, int64_t num_partitions,
    bool contiguous_split_chunks) {
  TORCH_CHECK(tensor.defined(),
              "split_tensor_along_last_dim: the tensor is undefined");
  TORCH_CHECK(tensor.dim() >= 1,
              "split_tensor_along_last_dim needs a tensor with at least one "
              "dimension, got a 0-dim tensor");
  TORCH_CHECK(num_partitions > 0,
              "split_tensor_along_last_dim: num_partitions must be positive, "
              "got ",
              num_partitions);
  const int64_t last_dim_size = divide(tensor.size(-1), num_partitions);

  // narrow() rather than split(): it always yields num_partitions views,
  // also when the last dimension is empty.
  std::vector<at::Tensor> chunks;
  chunks.reserve(num_partitions);
  for (int64_t i = 0; i < num_partitions; ++i) {
    at::Tensor chunk = tensor.narrow(-1, i * last_dim_size, last_dim_size);
    chunks.push_back(contiguous_split_chunks ? chunk.contiguous() : chunk);
  }
  return chunks;
}

}  // namespace fastvideo
