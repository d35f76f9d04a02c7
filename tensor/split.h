// Splitting a tensor into equal partitions along its last dimension, as
// Megatron-LM's tensor parallelism does.
#ifndef FASTVIDEO_DIST_TENSOR_SPLIT_H_
#define FASTVIDEO_DIST_TENSOR_SPLIT_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace fastvideo {

// Returns `num_partitions` chunks of `tensor`, in order, each holding
// size(-1) / num_partitions elements of the last dimension.
//
// Chunks are views sharing `tensor`'s storage (and its dtype, device and
// autograd graph). With `contiguous_split_chunks`, each chunk is made
// contiguous, which copies unless the chunk already is contiguous.
//
// Throws c10::Error for a 0-dim tensor, num_partitions <= 0, or a last
// dimension that is not divisible by num_partitions
// ("<size> is not divisible by <num_partitions>").
std::vector<at::Tensor> split_tensor_along_last_dim(
    const at::Tensor& tensor, int64_t num_partitions,
    bool contiguous_split_chunks = false);

}  // namespace fastvideo

#endif  // FASTVIDEO_DIST_TENSOR_SPLIT_H_
