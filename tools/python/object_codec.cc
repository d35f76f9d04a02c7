#include "tools/python/object_codec.h"

#include <pybind11/pybind11.h>
#include <torch/csrc/autograd/python_variable.h>

#include "absl/strings/str_cat.h"
#include "dist/torch_codec.h"

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

// Builds the Python objects of a payload; needs the GIL.
class ObjectBuilder {
 public:
  explicit ObjectBuilder(dist::Reader& in) : in_(in) {}

  absl::Status Build(int depth, OwnedObject& result) {
    if (depth > kMaxObjectNesting) {
      return Corrupt(in_, absl::StrCat("nested deeper than ", kMaxObjectNesting, " levels"));
    }
    uint8_t tag_byte = 0;
    if (absl::Status status = in_.GetBytes(&tag_byte, 1); !status.ok()) return status;
    switch (static_cast<ValueTag>(tag_byte)) {
      case ValueTag::kNone:
        Py_INCREF(Py_None);
        result = OwnedObject::Steal(Py_None);
        return absl::OkStatus();
      case ValueTag::kFalse:
      case ValueTag::kTrue:
        result = OwnedObject::Steal(
            PyBool_FromLong(static_cast<ValueTag>(tag_byte) == ValueTag::kTrue));
        return absl::OkStatus();
      case ValueTag::kInt: {
        int64_t value = 0;
        if (absl::Status status = in_.GetBytes(&value, sizeof(value)); !status.ok()) {
          return status;
        }
        return Made(PyLong_FromLongLong(value), result);
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

 private:
  // Takes a new reference from the C API; NULL means it failed (memory).
  absl::Status Made(PyObject* object, OwnedObject& result) {
    if (object == nullptr) {
      PyErr_Clear();
      return absl::ResourceExhaustedError(
          absl::StrCat("'", in_.type_tag(), "' payload: Python could not allocate an object"));
    }
    result = OwnedObject::Steal(object);
    return absl::OkStatus();
  }

  absl::Status BuildStr(OwnedObject& result) {
    uint64_t size = 0;
    if (absl::Status status = in_.GetCount(size, 1); !status.ok()) return status;
    absl::string_view utf8;
    if (absl::Status status = in_.GetView(size, utf8); !status.ok()) return status;
    PyObject* text = PyUnicode_DecodeUTF8(utf8.data(), utf8.size(), "strict");
    if (text == nullptr) {
      PyErr_Clear();
      return Corrupt(in_, "a str that is not UTF-8");
    }
    result = OwnedObject::Steal(text);
    return absl::OkStatus();
  }

  absl::Status BuildBytes(OwnedObject& result) {
    uint64_t size = 0;
    if (absl::Status status = in_.GetCount(size, 1); !status.ok()) return status;
    PyObject* bytes = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(size));
    if (absl::Status status = Made(bytes, result); !status.ok()) return status;
    // Nobody else can see the new object yet: fill it without the GIL.
    if (size >= kReleaseGilBytes) {
      py::gil_scoped_release unlocked;
      return in_.GetBytes(PyBytes_AS_STRING(bytes), size);
    }
    return in_.GetBytes(PyBytes_AS_STRING(bytes), size);
  }

  absl::Status BuildSequence(bool is_list, int depth, OwnedObject& result) {
    uint64_t count = 0;
    if (absl::Status status = in_.GetCount(count, 1); !status.ok()) return status;
    PyObject* sequence = is_list ? PyList_New(static_cast<Py_ssize_t>(count))
                                 : PyTuple_New(static_cast<Py_ssize_t>(count));
    if (absl::Status status = Made(sequence, result); !status.ok()) return status;
    for (uint64_t i = 0; i < count; ++i) {
      OwnedObject item;
      if (absl::Status status = Build(depth + 1, item); !status.ok()) return status;
      // The slots of a new list or tuple are empty: SET_ITEM steals.
      if (is_list) {
        PyList_SET_ITEM(sequence, static_cast<Py_ssize_t>(i), item.release());
      } else {
        PyTuple_SET_ITEM(sequence, static_cast<Py_ssize_t>(i), item.release());
      }
    }
    return absl::OkStatus();
  }

  absl::Status BuildDict(int depth, OwnedObject& result) {
    uint64_t count = 0;
    if (absl::Status status = in_.GetCount(count, 2); !status.ok()) return status;
    if (absl::Status status = Made(PyDict_New(), result); !status.ok()) return status;
    for (uint64_t i = 0; i < count; ++i) {
      OwnedObject key;
      OwnedObject value;
      if (absl::Status status = Build(depth + 1, key); !status.ok()) return status;
      if (!PyUnicode_CheckExact(key.get()) && !PyLong_CheckExact(key.get())) {
        return Corrupt(in_, "a dict key that is neither str nor int");
      }
      if (absl::Status status = Build(depth + 1, value); !status.ok()) return status;
      if (PyDict_Contains(result.get(), key.get()) != 0) {
        PyErr_Clear();
        return Corrupt(in_, "a dict key appears twice");
      }
      if (PyDict_SetItem(result.get(), key.get(), value.get()) != 0) {
        PyErr_Clear();
        return absl::ResourceExhaustedError("could not grow a received dict");
      }
    }
    return absl::OkStatus();
  }

  absl::Status BuildTensor(OwnedObject& result) {
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
  for (const SnapshotNode& node : snapshot.nodes()) {
    out.PutBytes(&node.tag, 1);
    switch (node.tag) {
      case ValueTag::kInt:
        out.PutBytes(&node.integer, sizeof(node.integer));
        break;
      case ValueTag::kFloat:
        out.PutBytes(&node.real, sizeof(node.real));
        break;
      case ValueTag::kStr:
      case ValueTag::kBytes:
        out.PutU64(node.bytes.size());
        out.PutBytes(node.bytes.data(), node.bytes.size());
        break;
      case ValueTag::kList:
      case ValueTag::kTuple:
      case ValueTag::kDict:
        out.PutU64(node.count);
        break;
      case ValueTag::kTensor:
        Codec<at::Tensor>::Encode(snapshot.tensors()[node.integer], out);
        break;
      case ValueTag::kNone:
      case ValueTag::kFalse:
      case ValueTag::kTrue:
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
