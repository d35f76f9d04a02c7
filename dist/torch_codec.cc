#include "dist/torch_codec.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <cstring>
#include <limits>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

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

uint32_t Le32(const char* p) {
  uint32_t value;
  std::memcpy(&value, p, sizeof(value));
  return value;
}

uint16_t Le16(const char* p) {
  uint16_t value;
  std::memcpy(&value, p, sizeof(value));
  return value;
}

// libtorch's pickler writes a zip archive and its reader allocates what the
// archive's central directory says each record holds. Before handing peer
// bytes to it, check that every record fits in the archive.
absl::Status CheckArchive(const std::vector<char>& archive, absl::string_view* pickle) {
  constexpr uint32_t kEndOfDirectory = 0x06054b50, kDirectoryEntry = 0x02014b50;
  const size_t size = archive.size();
  const char* data = archive.data();
  if (size < 22) return absl::DataLossError("corrupt c10::IValue payload: no zip archive");
  // The end-of-directory record is the last 22 bytes plus a comment.
  size_t end = size - 22;
  while (Le32(data + end) != kEndOfDirectory) {
    if (end == 0 || size - end > 22 + 0xFFFF) {
      return absl::DataLossError("corrupt c10::IValue payload: no zip directory");
    }
    --end;
  }
  const uint16_t entries = Le16(data + end + 10);
  const uint32_t directory_size = Le32(data + end + 12);
  size_t at = Le32(data + end + 16);
  if (at > end || directory_size > end - at) {
    return absl::DataLossError("corrupt c10::IValue payload: zip directory out of bounds");
  }
  for (uint16_t i = 0; i < entries; ++i) {
    if (at + 46 > end || Le32(data + at) != kDirectoryEntry) {
      return absl::DataLossError("corrupt c10::IValue payload: bad zip directory entry");
    }
    const uint32_t compressed = Le32(data + at + 20), uncompressed = Le32(data + at + 24);
    const uint32_t local_header = Le32(data + at + 42);
    const uint16_t name_size = Le16(data + at + 28);
    if (compressed != uncompressed || uncompressed > size || local_header > size ||
        at + 46 + name_size > end) {
      return absl::DataLossError(absl::StrCat(
          "corrupt c10::IValue payload: a zip record of ", uncompressed,
          " bytes in a ", size, "-byte archive"));
    }
    const absl::string_view name(data + at + 46, name_size);
    if (absl::EndsWith(name, "/data.pkl")) {
      // Stored, not compressed: the bytes follow the local header.
      if (local_header + size_t{30} > size) {
        return absl::DataLossError("corrupt c10::IValue payload: bad zip record header");
      }
      const size_t begin = local_header + size_t{30} + Le16(data + local_header + 26) +
                           Le16(data + local_header + 28);
      if (begin > size || uncompressed > size - begin) {
        return absl::DataLossError("corrupt c10::IValue payload: zip record out of bounds");
      }
      *pickle = absl::string_view(data + begin, uncompressed);
    }
    at += 46 + size_t{name_size} + Le16(data + at + 30) + Le16(data + at + 32);
  }
  if (pickle->data() == nullptr) {
    return absl::DataLossError("corrupt c10::IValue payload: no data.pkl record");
  }
  return absl::OkStatus();
}

// libtorch's unpickler trusts the lengths and memo indices in the pickle:
// it reserves what a string's length says, and resizes its memo to the
// largest index it sees. Walk the opcodes first and refuse any length past
// the end, any memo index beyond what could have been stored, and any
// opcode the pickler does not write.
absl::Status CheckPickle(absl::string_view pickle) {
  auto bad = [](absl::string_view what) {
    return absl::DataLossError(absl::StrCat("corrupt c10::IValue payload: pickle ", what));
  };
  uint64_t opcodes = 0;
  size_t at = 0;
  auto fixed = [&](size_t bytes, uint64_t* value) {
    if (bytes > pickle.size() - at) return false;
    *value = 0;
    std::memcpy(value, pickle.data() + at, bytes);
    at += bytes;
    return true;
  };
  auto line = [&]() {
    const size_t end = pickle.find('\n', at);
    if (end == absl::string_view::npos) return false;
    at = end + 1;
    return true;
  };
  while (at < pickle.size()) {
    const auto opcode = static_cast<unsigned char>(pickle[at++]);
    ++opcodes;
    uint64_t value = 0;
    switch (opcode) {
      case '.':  // STOP
        return at == pickle.size() ? absl::OkStatus() : bad("continues after STOP");
      case '(': case '0': case '1': case '2': case 'N': case 'R': case 'a': case 'b':
      case 'd': case '}': case 'e': case 'l': case ']': case 'o': case 's': case 't':
      case ')': case 'u': case 'Q': case 0x85: case 0x86: case 0x87: case 0x88: case 0x89:
      case 0x8f: case 0x90: case 0x91: case 0x92: case 0x93: case 0x94:
        break;
      case 'F': case 'I': case 'L': case 'S': case 'V': case 'P': case 'g': case 'p':
        if (!line()) return bad("line without an end");
        break;
      case 'c': case 'i':  // GLOBAL, INST: module and name lines
        if (!line() || !line()) return bad("global without an end");
        break;
      case 'J': if (!fixed(4, &value)) return bad("truncated"); break;
      case 'K': if (!fixed(1, &value)) return bad("truncated"); break;
      case 'M': if (!fixed(2, &value)) return bad("truncated"); break;
      case 'G': case 0x95: if (!fixed(8, &value)) return bad("truncated"); break;
      case 0x80: if (!fixed(1, &value)) return bad("truncated"); break;
      case 'h': case 'q':  // BINGET, BINPUT
        if (!fixed(1, &value) || value > opcodes) return bad("memo index out of range");
        break;
      case 'j': case 'r':  // LONG_BINGET, LONG_BINPUT
        if (!fixed(4, &value) || value > opcodes) return bad("memo index out of range");
        break;
      case 'U': case 'C': case 0x8c: case 0x8a:  // 1-byte length
        if (!fixed(1, &value) || value > pickle.size() - at) return bad("length past the end");
        at += value;
        break;
      case 'T': case 'X': case 'B': case 0x8b:  // 4-byte length
        if (!fixed(4, &value) || value > pickle.size() - at) return bad("length past the end");
        at += value;
        break;
      case 0x8d: case 0x8e:  // 8-byte length
        if (!fixed(8, &value) || value > pickle.size() - at) return bad("length past the end");
        at += value;
        break;
      default:
        return bad(absl::StrCat("opcode ", int{opcode}, " is not one libtorch writes"));
    }
  }
  return bad("without STOP");
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

absl::Status Codec<at::Tensor>::Decode(Reader& in, at::Tensor& tensor) {
  uint64_t dtype = 0, dims = 0, bytes = 0;
  if (absl::Status status = in.GetU64(dtype); !status.ok()) return status;
  if (dtype == static_cast<uint64_t>(c10::ScalarType::Undefined)) {
    tensor = at::Tensor();
    return absl::OkStatus();
  }
  if (!IsPlainDtype(dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor payload with unsupported dtype code ", dtype));
  }
  if (absl::Status status = in.GetU64(dims); !status.ok()) return status;
  if (dims > kMaxDims) {
    return absl::DataLossError(
        absl::StrCat("corrupt tensor payload: ", dims, " dimensions"));
  }
  std::vector<int64_t> sizes(dims);
  const auto type = static_cast<c10::ScalarType>(dtype);
  uint64_t expected = c10::elementSize(type);
  for (int64_t& size : sizes) {
    if (absl::Status status = in.Get(size); !status.ok()) return status;
    if (size < 0 ||
        (size > 0 && expected > std::numeric_limits<uint64_t>::max() / size)) {
      return absl::DataLossError(
          absl::StrCat("corrupt tensor payload: dimension of size ", size));
    }
    expected *= static_cast<uint64_t>(size);
  }
  if (absl::Status status = in.GetU64(bytes); !status.ok()) return status;
  if (bytes != expected || bytes > in.remaining()) {
    return absl::DataLossError(absl::StrCat(
        "corrupt tensor payload: ", bytes, " data bytes for a ",
        c10::toString(type), " tensor of ", expected, " bytes, ",
        in.remaining(), " bytes left"));
  }
  tensor = at::empty(sizes, at::TensorOptions().dtype(type));
  return in.GetBytes(tensor.data_ptr(), bytes);
}

void Codec<c10::IValue>::Encode(const c10::IValue& value, Writer& out) {
  const std::vector<char> pickled = torch::jit::pickle_save(value);
  out.PutU64(pickled.size());
  out.PutBytes(pickled.data(), pickled.size());
}

absl::Status Codec<c10::IValue>::Decode(Reader& in, c10::IValue& value) {
  uint64_t size = 0;
  if (absl::Status status = in.GetCount(size, 1); !status.ok()) return status;
  std::vector<char> pickled(size);
  if (absl::Status status = in.GetBytes(pickled.data(), size); !status.ok()) {
    return status;
  }
  absl::string_view pickle;
  if (absl::Status status = CheckArchive(pickled, &pickle); !status.ok()) return status;
  if (absl::Status status = CheckPickle(pickle); !status.ok()) return status;
  try {
    value = torch::jit::pickle_load(pickled);
  } catch (const std::exception& error) {
    return absl::DataLossError(absl::StrCat(
        "corrupt c10::IValue payload: the unpickler refused it: ",
        c10::GetExceptionString(error)));
  }
  return CheckPlainData(value);
}

absl::Status CheckPlainData(const c10::IValue& value) {
  return CheckPlainData(value, 0);
}

}  // namespace fastvideo::dist
