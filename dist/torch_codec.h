// Codecs for libtorch types (see codec.h for the framing).
//
// at::Tensor: dtype, shape and the raw bytes of a contiguous CPU copy (any
// strides in, contiguous out; sparse in, dense out); no pickling. An
// undefined tensor arrives undefined; quantized dtypes are refused with
// InvalidArgument on the reading side.
//
// c10::IValue: libtorch's "any object", pickled by libtorch's pickler with
// tensors sent through the tensor codec. Plain data only: None, bool, int,
// double, complex, string, device, tensors, and lists, tuples and dicts of
// those. Encoding anything else (objects, classes, futures, capsules) is a
// caller error (c10::Error, before anything is sent). Decoding never uses
// libtorch's unpickler: plain_unpickler.h reads the bytes, refusing
// anything but plain data with InvalidArgument and anything malformed with
// DataLoss.
#ifndef FASTVIDEO_DIST_TORCH_CODEC_H_
#define FASTVIDEO_DIST_TORCH_CODEC_H_

#include <ATen/core/Tensor.h>
#include <ATen/core/ivalue.h>

#include <string>

#include "absl/status/status.h"
#include "dist/codec.h"

namespace fastvideo::dist {

template <>
struct Codec<at::Tensor> {
  static std::string Tag() { return "tensor"; }
  static void Encode(const at::Tensor& tensor, Writer& out);
  static uint64_t EncodedSize(const at::Tensor& tensor);
  static absl::Status Decode(Reader& in, at::Tensor& tensor);
};

// Receiving into a given, defined tensor (StatelessProcessGroup::recv and
// broadcast): a tensor of the same dtype and shape is written straight into
// `target`'s storage (a contiguous CPU target; others through a copy), so
// a large tensor read in place lands there with one MPI_Get. Any other
// dtype or shape is InvalidArgument naming both. On error the target's
// contents are unspecified. Receive-only; the payload is a tensor's.
struct TensorInto {
  at::Tensor* target;
};

template <>
struct Codec<TensorInto> {
  static std::string Tag() { return Codec<at::Tensor>::Tag(); }
  static absl::Status Decode(Reader& in, TensorInto& into);
};

template <>
struct Codec<c10::IValue> {
  static std::string Tag() { return "ivalue"; }
  static void Encode(const c10::IValue& value, Writer& out);
  static absl::Status Decode(Reader& in, c10::IValue& value);
};

// OkStatus when `value` holds only plain data (see above).
absl::Status CheckPlainData(const c10::IValue& value);

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_TORCH_CODEC_H_
