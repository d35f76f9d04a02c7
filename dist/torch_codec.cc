#include "dist/torch_codec.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dist/internal/plain_unpickler.h"

namespace fastvideo::dist {
namespace {

constexpr uint64_t kMaxDims = 64;
constexpr int kMaxNesting = 128;

bool IsPlainDtype(uint64_t code) {
  if (code >= static_cast<uint64_t>(c10::ScalarType::NumOptions)) return false;
  const auto type = static_cast<c10::ScalarType>(code);
  return !c10::isQIntType(type) && type != c10::ScalarType::Undefined;
}

absl::Status CheckPlainData(const c10::IValue& value, int depth) {
  if (depth > kMaxNesting) {
    return absl::InvalidArgumentError(absl::StrCat(
        "c10::IValue payload nested deeper than ", kMaxNesting, " levels"));
  }
  if (value.isNone() || value.isBool() || value.isInt() || value.isDouble() ||
      value.isComplexDouble() || value.isString() || value.isDevice() ||
      value.isTensor()) {
    return absl::OkStatus();
  }
  if (value.isList()) {
    for (const c10::IValue& element : value.toListRef()) {
      if (absl::Status status = CheckPlainData(element, depth + 1); !status.ok()) {
        return status;
      }
    }
    return absl::OkStatus();
  }
  if (value.isTuple()) {
    for (const c10::IValue& element : value.toTupleRef().elements()) {
      if (absl::Status status = CheckPlainData(element, depth + 1); !status.ok()) {
        return status;
      }
    }
    return absl::OkStatus();
  }
  if (value.isGenericDict()) {
    for (const auto& item : value.toGenericDict()) {
      if (absl::Status status = CheckPlainData(item.key(), depth + 1); !status.ok()) {
        return status;
      }
      if (absl::Status status = CheckPlainData(item.value(), depth + 1); !status.ok()) {
        return status;
      }
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "c10::IValue payload holds a ", value.tagKind(),
      ": only plain data is accepted (None, bool, int, double, complex, "
      "string, device, tensors, and lists, tuples and dicts of those)"));
}

}  // namespace

void Codec<at::Tensor>::Encode(const at::Tensor& tensor, Writer& out) {
  if (!tensor.defined()) {
    out.PutU64(static_cast<uint64_t>(c10::ScalarType::Undefined));
    return;
  }
  const at::Tensor dense =
      (tensor.is_sparse() ? tensor.to_dense() : tensor).detach().cpu().contiguous();
  out.PutU64(static_cast<uint64_t>(dense.scalar_type()));
  out.PutU64(static_cast<uint64_t>(dense.dim()));
  for (int64_t size : dense.sizes()) out.Put(size);
  const uint64_t bytes = dense.nbytes();
  out.PutU64(bytes);
  if (bytes > 0) out.PutBytes(dense.data_ptr(), bytes);
}

uint64_t Codec<at::Tensor>::EncodedSize(const at::Tensor& tensor) {
  if (!tensor.defined()) return sizeof(uint64_t);
  // dtype, dims, sizes, byte count, then the bytes of a dense copy.
  return sizeof(uint64_t) * (3 + tensor.dim()) +
         static_cast<uint64_t>(tensor.numel()) * tensor.element_size();
}

namespace {

// What precedes a tensor's bytes; `defined` false for an undefined tensor.
struct TensorHeader {
  bool defined = false;
  c10::ScalarType type = c10::ScalarType::Undefined;
  std::vector<int64_t> sizes;
  uint64_t bytes = 0;
};

// Reads a header and checks it against what can follow it.
absl::Status GetTensorHeader(Reader& in, TensorHeader& header) {
  uint64_t dtype = 0, dims = 0;
  if (absl::Status status = in.GetU64(dtype); !status.ok()) return status;
  header.defined = dtype != static_cast<uint64_t>(c10::ScalarType::Undefined);
  if (!header.defined) return absl::OkStatus();
  if (!IsPlainDtype(dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor payload with unsupported dtype code ", dtype));
  }
  if (absl::Status status = in.GetU64(dims); !status.ok()) return status;
  if (dims > kMaxDims) {
    return absl::DataLossError(
        absl::StrCat("corrupt tensor payload: ", dims, " dimensions"));
  }
  header.type = static_cast<c10::ScalarType>(dtype);
  header.sizes.resize(dims);
  uint64_t expected = c10::elementSize(header.type);
  for (int64_t& size : header.sizes) {
    if (absl::Status status = in.Get(size); !status.ok()) return status;
    if (size < 0 ||
        (size > 0 && expected > std::numeric_limits<uint64_t>::max() / size)) {
      return absl::DataLossError(
          absl::StrCat("corrupt tensor payload: dimension of size ", size));
    }
    expected *= static_cast<uint64_t>(size);
  }
  if (absl::Status status = in.GetU64(header.bytes); !status.ok()) return status;
  if (header.bytes != expected || header.bytes > in.remaining()) {
    return absl::DataLossError(absl::StrCat(
        "corrupt tensor payload: ", header.bytes, " data bytes for a ",
        c10::toString(header.type), " tensor of ", expected, " bytes, ",
        in.remaining(), " bytes left"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Codec<at::Tensor>::Decode(Reader& in, at::Tensor& tensor) {
  TensorHeader header;
  if (absl::Status status = GetTensorHeader(in, header); !status.ok()) return status;
  if (!header.defined) {
    tensor = at::Tensor();
    return absl::OkStatus();
  }
  tensor = at::empty(header.sizes, at::TensorOptions().dtype(header.type));
  return in.GetBytes(tensor.data_ptr(), header.bytes);
}

absl::Status Codec<TensorInto>::Decode(Reader& in, TensorInto& into) {
  at::Tensor& target = *into.target;
  TensorHeader header;
  if (absl::Status status = GetTensorHeader(in, header); !status.ok()) return status;
  if (!header.defined || header.type != target.scalar_type() ||
      c10::IntArrayRef(header.sizes) != target.sizes()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "received ",
        header.defined ? absl::StrCat("a ", c10::toString(header.type)) : "an undefined",
        " tensor of shape ", c10::str(c10::IntArrayRef(header.sizes)), " into a ",
        c10::toString(target.scalar_type()), " tensor of shape ", c10::str(target.sizes())));
  }
  if (target.is_contiguous() && target.device().is_cpu()) {
    return in.GetBytes(target.data_ptr(), header.bytes);
  }
  at::Tensor received = at::empty(header.sizes, at::TensorOptions().dtype(header.type));
  if (absl::Status status = in.GetBytes(received.data_ptr(), header.bytes); !status.ok()) {
    return status;
  }
  target.copy_(received);
  return absl::OkStatus();
}

// Wire form: u64 pickle size | pickle | u64 tensor count | tensors. The
// pickle refers to tensors by index (torch.jit._pickle.build_tensor_from_id),
// and their bytes go through the tensor codec above, not a zip archive.
void Codec<c10::IValue>::Encode(const c10::IValue& value, Writer& out) {
  const absl::Status plain = CheckPlainData(value);
  TORCH_CHECK(plain.ok(), "cannot send this c10::IValue: ", plain.message());
  std::vector<at::Tensor> tensors;
  const std::vector<char> pickle = torch::jit::pickle(value, &tensors);
  out.PutU64(pickle.size());
  out.PutBytes(pickle.data(), pickle.size());
  out.PutU64(tensors.size());
  for (const at::Tensor& tensor : tensors) Codec<at::Tensor>::Encode(tensor, out);
}

absl::Status Codec<c10::IValue>::Decode(Reader& in, c10::IValue& value) {
  uint64_t pickle_size = 0, tensor_count = 0;
  absl::string_view pickle;
  if (absl::Status status = in.GetU64(pickle_size); !status.ok()) return status;
  if (absl::Status status = in.GetView(pickle_size, pickle); !status.ok()) return status;
  if (absl::Status status = in.GetCount(tensor_count, sizeof(uint64_t)); !status.ok()) {
    return status;
  }
  std::vector<at::Tensor> tensors(tensor_count);
  for (at::Tensor& tensor : tensors) {
    if (absl::Status status = Codec<at::Tensor>::Decode(in, tensor); !status.ok()) return status;
  }
  absl::StatusOr<c10::IValue> unpickled = UnpicklePlainData(pickle, tensors);
  if (!unpickled.ok()) return unpickled.status();
  value = *std::move(unpickled);
  return absl::OkStatus();
}

absl::Status CheckPlainData(const c10::IValue& value) {
  return CheckPlainData(value, 0);
}

}  // namespace fastvideo::dist
