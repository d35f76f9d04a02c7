// Parses the container type tags libtorch's pickler writes next to lists
// and dicts ("List[int]", "Dict[str, Tensor]", "Tuple[int, Optional[str]]")
// into c10 types, for plain data only.
//
// Known names: int, float, bool, str, complex, Tensor, NoneType, Device,
// Any, and Optional/List/Dict/Tuple of those. A name that is not plain data
// (a class, a Future, ...) is InvalidArgument; a malformed tag, or one
// nested deeper than kMaxTypeTagNesting, is DataLoss. Never throws.
#ifndef FASTVIDEO_DIST_INTERNAL_IVALUE_TYPE_TAG_H_
#define FASTVIDEO_DIST_INTERNAL_IVALUE_TYPE_TAG_H_

#include <ATen/core/jit_type.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fastvideo::dist {

inline constexpr int kMaxTypeTagNesting = 64;

absl::StatusOr<c10::TypePtr> ParseTypeTag(absl::string_view tag);

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_IVALUE_TYPE_TAG_H_
