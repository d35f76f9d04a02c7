// The tensor conveniences of StatelessProcessGroup, as in newer vLLM
// versions of the class. Kept apart so that only this file pays for
// libtorch's headers.
#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"
#include "dist/stateless_process_group.h"
#include "dist/torch_codec.h"

namespace fastvideo {
namespace {

// Copies `received` into `tensor` when their shapes and dtypes match.
absl::Status CopyInto(const at::Tensor& received, at::Tensor& tensor,
                      const std::string& where) {
  if (!tensor.defined()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": the destination tensor is undefined"));
  }
  if (received.sizes() != tensor.sizes() ||
      received.scalar_type() != tensor.scalar_type()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": received a ", c10::toString(received.scalar_type()),
        " tensor of shape ", c10::str(received.sizes()), " into a ",
        c10::toString(tensor.scalar_type()), " tensor of shape ",
        c10::str(tensor.sizes())));
  }
  tensor.copy_(received);
  return absl::OkStatus();
}

}  // namespace

absl::Status StatelessProcessGroup::send(const at::Tensor& tensor, int dst,
                                         Deadline deadline) {
  return send_obj(tensor, dst, deadline);
}

absl::Status StatelessProcessGroup::recv(at::Tensor& tensor, int src,
                                         Deadline deadline) {
  absl::StatusOr<at::Tensor> received = recv_obj<at::Tensor>(src, deadline);
  if (!received.ok()) return received.status();
  return CopyInto(*received, tensor,
                  absl::StrCat("group '", name(), "' rank ", rank(),
                               ": recv from rank ", src));
}

absl::Status StatelessProcessGroup::broadcast(at::Tensor& tensor, int src,
                                              Deadline deadline) {
  absl::StatusOr<at::Tensor> received = broadcast_obj(tensor, src, deadline);
  if (!received.ok()) return received.status();
  if (rank() == src) return absl::OkStatus();
  return CopyInto(*received, tensor,
                  absl::StrCat("group '", name(), "' rank ", rank(),
                               ": broadcast from rank ", src));
}

absl::Status StatelessProcessGroup::all_reduce(at::Tensor& tensor, ReduceOp op,
                                               Deadline deadline) {
  absl::StatusOr<std::vector<at::Tensor>> gathered =
      all_gather_obj(tensor, deadline);
  if (!gathered.ok()) return gathered.status();
  for (int r = 0; r < world_size(); ++r) {
    const at::Tensor& part = (*gathered)[r];
    if (part.sizes() != tensor.sizes() ||
        part.scalar_type() != tensor.scalar_type()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "group '", name(), "' rank ", rank(), ": all_reduce: rank ", r,
          " has a ", c10::toString(part.scalar_type()), " tensor of shape ",
          c10::str(part.sizes()), ", this rank a ",
          c10::toString(tensor.scalar_type()), " tensor of shape ",
          c10::str(tensor.sizes())));
    }
  }
  // Rank order on every member, so every member gets the same bits.
  at::Tensor result = (*gathered)[0].clone();
  for (int r = 1; r < world_size(); ++r) {
    const at::Tensor& part = (*gathered)[r];
    switch (op) {
      case ReduceOp::kSum:
        result.add_(part);
        break;
      case ReduceOp::kProduct:
        result.mul_(part);
        break;
      case ReduceOp::kMin:
        result = at::minimum(result, part);
        break;
      case ReduceOp::kMax:
        result = at::maximum(result, part);
        break;
    }
  }
  tensor.copy_(result);
  return absl::OkStatus();
}

}  // namespace fastvideo
