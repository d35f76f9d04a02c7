// Reads back what libtorch's pickler writes for plain data
// (torch::jit::pickle with a tensor table), without libtorch's unpickler,
// which trusts its input. A peer's bytes only ever reach this reader.
//
// Accepted: None, bool, int, double, complex, string, device, tensors (by
// index into `tensors`), and lists, tuples and dicts of those, with the
// container type tags the pickler writes. The reader
//  - knows only the opcodes the pickler writes, and only the globals that
//    build plain data (torch.jit._pickle's list builders, tensor ids and
//    type tags, torch.device, builtins.complex); any other global (a class,
//    a function) is InvalidArgument, naming it;
//  - checks every length, memo index and tensor index against its input,
//    checks that container elements match their type tags, and builds no
//    cycles: a list is finished before anything can refer to it;
//  - bounds nesting (kMaxPickleNesting) and the values reachable through
//    shared references (kMaxPickleValues), so walking the result is cheap;
//  - reports anything malformed as DataLoss, with the byte offset.
// Never throws; executes nothing.
#ifndef FASTVIDEO_DIST_INTERNAL_PLAIN_UNPICKLER_H_
#define FASTVIDEO_DIST_INTERNAL_PLAIN_UNPICKLER_H_

#include <ATen/core/Tensor.h>
#include <ATen/core/ivalue.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fastvideo::dist {

inline constexpr int kMaxPickleNesting = 128;
inline constexpr uint64_t kMaxPickleValues = uint64_t{1} << 24;

absl::StatusOr<c10::IValue> UnpicklePlainData(absl::string_view pickle,
                                              const std::vector<at::Tensor>& tensors);

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_PLAIN_UNPICKLER_H_
