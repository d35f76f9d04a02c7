// The tensor conveniences of StatelessProcessGroup, as in newer vLLM
// versions of the class. Kept apart so that only this file pays for
// libtorch's headers.
#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"
#include "dist/stateless_process_group.h"
#include "dist/torch_codec.h"

namespace fastvideo {

using dist::MessageKey;
using dist::MessageKind;

absl::Status StatelessProcessGroup::CheckDestination(const at::Tensor& tensor,
                                                     const char* call, int src) const {
  if (tensor.defined()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("group '", name(), "' rank ", rank(), ": ",
                                                 call, " from rank ", src,
                                                 ": the destination tensor is undefined"));
}

absl::Status StatelessProcessGroup::send(const at::Tensor& tensor, int dst,
                                         Deadline deadline) {
  return send_obj(tensor, dst, deadline);
}

absl::Status StatelessProcessGroup::recv(at::Tensor& tensor, int src,
                                         Deadline deadline) {
  if (absl::Status status = CheckDestination(tensor, "recv", src); !status.ok()) {
    return status;
  }
  dist::TensorInto into{&tensor};
  return recv_obj_into(into, src, deadline);
}

absl::Status StatelessProcessGroup::broadcast(at::Tensor& tensor, int src,
                                              Deadline deadline) {
  if (absl::Status status = CheckPeer("broadcast", src); !status.ok()) return status;
  if (rank() == src) {
    return PublishObject(MessageKind::kBroadcast, MessageKey::kEveryRank, tensor, deadline);
  }
  if (absl::Status status = CheckDestination(tensor, "broadcast", src); !status.ok()) {
    return status;
  }
  dist::TensorInto into{&tensor};
  return ReceiveInto(MessageKind::kBroadcast, src, deadline, into);
}

absl::Status StatelessProcessGroup::all_reduce(at::Tensor& tensor, ReduceOp op,
                                               Deadline deadline) {
  absl::StatusOr<std::vector<at::Tensor>> gathered =
      all_gather_obj(tensor, deadline);
  if (!gathered.ok()) {  // named by the call the user made
    return absl::Status(gathered.status().code(),
                        absl::StrCat("all_reduce: ", gathered.status().message()));
  }
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
