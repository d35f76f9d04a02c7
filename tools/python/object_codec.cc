#include "tools/python/object_codec.h"

#include <pybind11/pybind11.h>
#include <torch/csrc/autograd/python_variable.h>

#include <array>

#include "absl/strings/str_cat.h"
#include "dist/torch_codec.h"
#include "tools/python/varint.h"

namespace fastvideo::python {
namespace py = pybind11;

OwnedObject::OwnedObject(const OwnedObject& other) : object_(other.object_) {
  if (object_ == nullptr) return;
  PyGILState_STATE state = PyGILState_Ensure();
  Py_INCREF(object_);
  PyGILState_Release(state);
}

OwnedObject& OwnedObject::operator=(const OwnedObject& other) {
  if (this != &other) *this = OwnedObject(other);
  return *this;
}

OwnedObject& OwnedObject::operator=(OwnedObject&& other) noexcept {
  if (this != &other) {
    Reset();
    object_ = std::exchange(other.object_, nullptr);
  }
  return *this;
}

void OwnedObject::Reset() {
  if (object_ == nullptr) return;
  PyGILState_STATE state = PyGILState_Ensure();
  Py_CLEAR(object_);
  PyGILState_Release(state);
}

// Copies this large or larger are made without the GIL; smaller payloads
// are built after the call (BuildReceived).
constexpr uint64_t kReleaseGilBytes = uint64_t{64} << 10;

namespace {

absl::Status Corrupt(const dist::Reader& in, absl::string_view what) {
  return absl::DataLossError(absl::StrCat("corrupt '", in.type_tag(), "' payload: ", what));
}

// Builds the Python objects of a payload; needs the GIL. Every Build gives
// a new reference, or fails having released whatever it made.
class ObjectBuilder {
 public:
  explicit ObjectBuilder(dist::Reader& in) : in_(in) {}
  ObjectBuilder(const ObjectBuilder&) = delete;
  ObjectBuilder& operator=(const ObjectBuilder&) = delete;
  ~ObjectBuilder() {
    for (const CachedStr& cached : str_cache_) Py_XDECREF(cached.object);
  }

  absl::Status Build(int depth, OwnedObject& result) {
    PyObject* object = nullptr;
    if (absl::Status status = Build(depth, &object); !status.ok()) return status;
    result = OwnedObject::Steal(object);
    return absl::OkStatus();
  }

 private:
  absl::Status Build(int depth, PyObject** result) {
    if (depth > kMaxObjectNesting) {
      return Corrupt(in_, absl::StrCat("nested deeper than ", kMaxObjectNesting, " levels"));
    }
    uint8_t tag_byte = 0;
    if (!in_.buffered().empty()) {
      tag_byte = static_cast<uint8_t>(in_.buffered().front());
      in_.Skip(1);
    } else if (absl::Status status = in_.GetBytes(&tag_byte, 1); !status.ok()) {
      return status;
    }
    switch (static_cast<ValueTag>(tag_byte)) {
      case ValueTag::kNone:
        Py_INCREF(Py_None);
        *result = Py_None;
        return absl::OkStatus();
      case ValueTag::kFalse:
      case ValueTag::kTrue:
        *result = PyBool_FromLong(static_cast<ValueTag>(tag_byte) == ValueTag::kTrue);
        return absl::OkStatus();
      case ValueTag::kInt: {
        uint64_t zigzag = 0;
        if (absl::Status status = GetVarint(zigzag); !status.ok()) return status;
        return Made(PyLong_FromLongLong(UnZigZag(zigzag)), result);
      }
      case ValueTag::kFloat: {
        double value = 0;
        if (absl::Status status = in_.GetBytes(&value, sizeof(value)); !status.ok()) {
          return status;
        }
        return Made(PyFloat_FromDouble(value), result);
      }
      case ValueTag::kStr:
        return BuildStr(result);
      case ValueTag::kBytes:
        return BuildBytes(result);
      case ValueTag::kList:
      case ValueTag::kTuple:
        return BuildSequence(static_cast<ValueTag>(tag_byte) == ValueTag::kList, depth, result);
      case ValueTag::kDict:
        return BuildDict(depth, result);
      case ValueTag::kTensor:
        return BuildTensor(result);
    }
    return Corrupt(in_, absl::StrCat("unknown value tag ", int{tag_byte}));
  }

  // A new reference from the C API; NULL means it failed (memory).
  absl::Status Made(PyObject* object, PyObject** result) {
    if (object == nullptr) {
      PyErr_Clear();
      return absl::ResourceExhaustedError(
          absl::StrCat("'", in_.type_tag(), "' payload: Python could not allocate an object"));
    }
    *result = object;
    return absl::OkStatus();
  }

  absl::Status GetVarint(uint64_t& value) {
    // Most varints are one or two bytes, already in memory.
    const absl::string_view buffered = in_.buffered();
    if (!buffered.empty() && (buffered[0] & 0x80) == 0) {
      value = static_cast<uint8_t>(buffered[0]);
      in_.Skip(1);
      return absl::OkStatus();
    }
    value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t byte = 0;
      if (absl::Status status = in_.GetBytes(&byte, 1); !status.ok()) return status;
      value |= uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80) == 0) {
        if (shift == 63 && byte > 1) return Corrupt(in_, "a varint past 64 bits");
        return absl::OkStatus();
      }
    }
    return Corrupt(in_, absl::StrCat("a varint longer than ", kMaxVarintBytes, " bytes"));
  }

  // A length or count, checked against the bytes left: `count` elements of
  // at least `min_element_bytes` each must still be there.
  absl::Status GetCount(uint64_t& count, uint64_t min_element_bytes) {
    if (absl::Status status = GetVarint(count); !status.ok()) return status;
    // (No division: this runs for every str and container. The product
    // cannot overflow once count <= remaining, and elements are small.)
    const uint64_t remaining = in_.remaining();
    if (count > remaining || count * min_element_bytes > remaining) {
      return Corrupt(in_, absl::StrCat(count, " elements of ", min_element_bytes,
                                       "+ bytes cannot fit in the ", in_.remaining(),
                                       " bytes left"));
    }
    return absl::OkStatus();
  }

  absl::Status BuildStr(PyObject** result) {
    uint64_t size = 0;
    if (absl::Status status = GetCount(size, 1); !status.ok()) return status;
    absl::string_view utf8;
    if (absl::Status status = in_.GetView(size, utf8); !status.ok()) return status;
    CachedStr* cached = nullptr;
    if (utf8.size() <= kMaxCachedStrBytes) {
      cached = &str_cache_[CacheSlot(utf8)];
      if (cached->object != nullptr && cached->utf8 == utf8) {
        Py_INCREF(cached->object);
        *result = cached->object;
        return absl::OkStatus();
      }
    }
    PyObject* text = PyUnicode_DecodeUTF8(utf8.data(), utf8.size(), "strict");
    if (text == nullptr) {
      PyErr_Clear();
      return Corrupt(in_, "a str that is not UTF-8");
    }
    if (cached != nullptr) {
      Py_XDECREF(cached->object);
      Py_INCREF(text);
      *cached = {utf8, text};
    }
    *result = text;
    return absl::OkStatus();
  }

  // Short strs met again in one payload (the same keys in every dict of a
  // list, the same dtype names) come back as one object, as pickle's memo
  // gives them: one allocation and one hash where there were many. A str
  // is immutable, so only `is` can tell.
  struct CachedStr {
    absl::string_view utf8;  // in the payload, which outlives the builder
    PyObject* object = nullptr;
  };
  static constexpr size_t kStrCacheSlots = 32;
  static constexpr size_t kMaxCachedStrBytes = 32;
  static size_t CacheSlot(absl::string_view utf8) {
    if (utf8.empty()) return 0;
    const size_t mixed = utf8.size() * 31 + static_cast<unsigned char>(utf8.front()) * 7 +
                         static_cast<unsigned char>(utf8[utf8.size() / 2]) * 3 +
                         static_cast<unsigned char>(utf8.back());
    return mixed % kStrCacheSlots;
  }

  absl::Status BuildBytes(PyObject** result) {
    uint64_t size = 0;
    if (absl::Status status = GetCount(size, 1); !status.ok()) return status;
    PyObject* bytes = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(size));
    if (absl::Status status = Made(bytes, result); !status.ok()) return status;
    absl::Status filled;
    // Nobody else can see the new object yet: fill it without the GIL.
    if (size >= kReleaseGilBytes) {
      py::gil_scoped_release unlocked;
      filled = in_.GetBytes(PyBytes_AS_STRING(bytes), size);
    } else {
      filled = in_.GetBytes(PyBytes_AS_STRING(bytes), size);
    }
    if (!filled.ok()) Py_CLEAR(*result);
    return filled;
  }

  absl::Status BuildSequence(bool is_list, int depth, PyObject** result) {
    uint64_t count = 0;
    if (absl::Status status = GetCount(count, 1); !status.ok()) return status;
    PyObject* sequence = is_list ? PyList_New(static_cast<Py_ssize_t>(count))
                                 : PyTuple_New(static_cast<Py_ssize_t>(count));
    if (absl::Status status = Made(sequence, result); !status.ok()) return status;
    for (uint64_t i = 0; i < count; ++i) {
      PyObject* item = nullptr;
      if (absl::Status status = Build(depth + 1, &item); !status.ok()) {
        Py_CLEAR(*result);  // its empty slots are NULL, which it skips
        return status;
      }
      // The slots of a new list or tuple are empty: SET_ITEM steals.
      if (is_list) {
        PyList_SET_ITEM(sequence, static_cast<Py_ssize_t>(i), item);
      } else {
        PyTuple_SET_ITEM(sequence, static_cast<Py_ssize_t>(i), item);
      }
    }
    return absl::OkStatus();
  }

  absl::Status BuildDict(int depth, PyObject** result) {
    uint64_t count = 0;
    if (absl::Status status = GetCount(count, 2); !status.ok()) return status;
    if (absl::Status status = Made(PyDict_New(), result); !status.ok()) return status;
    PyObject* dict = *result;
    absl::Status status;
    for (uint64_t i = 0; i < count && status.ok(); ++i) {
      PyObject* key = nullptr;
      PyObject* value = nullptr;
      status = Build(depth + 1, &key);
      if (status.ok() && !PyUnicode_CheckExact(key) && !PyLong_CheckExact(key)) {
        status = Corrupt(in_, "a dict key that is neither str nor int");
      }
      if (status.ok()) status = Build(depth + 1, &value);
      if (status.ok()) {
        // One hash lookup, not two: a key seen before leaves the size as is.
        const Py_ssize_t before = PyDict_GET_SIZE(dict);
        if (PyDict_SetItem(dict, key, value) != 0) {
          PyErr_Clear();
          status = absl::ResourceExhaustedError("could not grow a received dict");
        } else if (PyDict_GET_SIZE(dict) == before) {
          status = Corrupt(in_, "a dict key appears twice");
        }
      }
      Py_XDECREF(key);
      Py_XDECREF(value);
    }
    if (!status.ok()) Py_CLEAR(*result);
    return status;
  }

  absl::Status BuildTensor(PyObject** result) {
    at::Tensor tensor;
    {
      py::gil_scoped_release unlocked;
      if (absl::Status status = dist::Codec<at::Tensor>::Decode(in_, tensor); !status.ok()) {
        return status;
      }
    }
    return Made(THPVariable_Wrap(std::move(tensor)), result);
  }

  dist::Reader& in_;
  std::array<CachedStr, kStrCacheSlots> str_cache_{};
};

}  // namespace

absl::Status BuildReceived(PyMessage& message) {
  if (message.received.empty()) return absl::OkStatus();
  const std::string received = std::move(message.received);
  message.received.clear();
  dist::Reader in(received, dist::Codec<PyMessage>::Tag());
  OwnedObject result;
  if (absl::Status status = ObjectBuilder(in).Build(0, result); !status.ok()) return status;
  if (in.remaining() != 0) {
    return Corrupt(in, absl::StrCat(in.remaining(), " bytes left after the value"));
  }
  message.incoming = std::move(result);
  return absl::OkStatus();
}

}  // namespace fastvideo::python

namespace fastvideo::dist {

using python::SnapshotNode;
using python::ValueTag;

void Codec<python::PyMessage>::Encode(const python::PyMessage& message, Writer& out) {
  const python::ObjectSnapshot& snapshot = *message.outgoing;
  if (!snapshot.written().empty()) {
    out.PutBytes(snapshot.written().data(), snapshot.written().size());
    return;
  }
  // A value's tag and varint go out in one write.
  unsigned char head[1 + python::kMaxVarintBytes];
  const auto put_head = [&head, &out](const SnapshotNode& node, uint64_t varint) {
    out.PutBytes(head, python::PutTagAndVarint(static_cast<unsigned char>(node.tag), varint, head));
  };
  for (const SnapshotNode& node : snapshot.nodes()) {
    head[0] = static_cast<unsigned char>(node.tag);
    switch (node.tag) {
      case ValueTag::kInt:
        put_head(node, python::ZigZag(node.integer));
        break;
      case ValueTag::kFloat:
        out.PutBytes(head, 1);
        out.PutBytes(&node.real, sizeof(node.real));
        break;
      case ValueTag::kStr:
      case ValueTag::kBytes:
        put_head(node, node.bytes.size());
        out.PutBytes(node.bytes.data(), node.bytes.size());
        break;
      case ValueTag::kList:
      case ValueTag::kTuple:
      case ValueTag::kDict:
        put_head(node, node.count);
        break;
      case ValueTag::kTensor:
        out.PutBytes(head, 1);
        Codec<at::Tensor>::Encode(snapshot.tensors()[node.integer], out);
        break;
      case ValueTag::kNone:
      case ValueTag::kFalse:
      case ValueTag::kTrue:
        out.PutBytes(head, 1);
        break;
    }
  }
}

absl::Status Codec<python::PyMessage>::Decode(Reader& in, python::PyMessage& message) {
  // A small payload is copied out now and built by the caller, which holds
  // the GIL again anyway: taking it here too would cost two more handoffs.
  if (in.remaining() > 0 && in.remaining() < python::kReleaseGilBytes) {
    absl::string_view bytes;
    if (absl::Status status = in.GetView(in.remaining(), bytes); !status.ok()) return status;
    message.received.assign(bytes.data(), bytes.size());
    return absl::OkStatus();
  }
  pybind11::gil_scoped_acquire gil;
  python::OwnedObject result;
  if (absl::Status status = python::ObjectBuilder(in).Build(0, result); !status.ok()) {
    return status;
  }
  message.incoming = std::move(result);
  return absl::OkStatus();
}

}  // namespace fastvideo::dist
