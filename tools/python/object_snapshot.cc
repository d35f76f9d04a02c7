#include "tools/python/object_snapshot.h"

#include <pybind11/pybind11.h>
#include <torch/csrc/autograd/python_variable.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "absl/algorithm/container.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "dist/torch_codec.h"
#include "tools/python/varint.h"

namespace fastvideo::python {
namespace py = pybind11;

namespace {

std::string TypeName(PyObject* object) {
  PyTypeObject* type = Py_TYPE(object);
  PyObject* module = PyObject_GetAttrString(reinterpret_cast<PyObject*>(type), "__module__");
  std::string name = type->tp_name;
  if (module != nullptr && PyUnicode_Check(module)) {
    const char* module_name = PyUnicode_AsUTF8(module);
    if (module_name != nullptr && std::string(module_name) != "builtins" &&
        name.find('.') == std::string::npos) {
      name = absl::StrCat(module_name, ".", name);
    }
  }
  Py_XDECREF(module);
  PyErr_Clear();
  return name;
}

// A dict key as it appears in a path: ['layers'] or [3].
std::string KeyInPath(PyObject* key) {
  if (PyLong_CheckExact(key)) return absl::StrCat("[", PyLong_AsLongLong(key), "]");
  Py_ssize_t size = 0;
  const char* utf8 = PyUnicode_AsUTF8AndSize(key, &size);
  if (utf8 == nullptr) {
    PyErr_Clear();
    return "[?]";
  }
  return absl::StrCat("['", absl::string_view(utf8, size), "']");
}

}  // namespace

class ObjectSnapshot::Walker {
 public:
  // Thrown, when writing at once, by an object that must be kept as nodes.
  struct WriteLater {};

  Walker(ObjectSnapshot& snapshot, bool write_at_once)
      : snapshot_(snapshot), write_at_once_(write_at_once) {}

  // After Visit, writing at once: cuts written() to what was written.
  void Finish() {
    if (length_ > kWrittenAtOnceBytes) throw WriteLater{};
    snapshot_.written_.resize(length_);
  }

  void Visit(PyObject* object) {
    if (static_cast<int>(path_.size()) > kMaxObjectNesting) {
      throw py::value_error(absl::StrCat("cannot send ", Path(), ": nested deeper than ",
                                         kMaxObjectNesting, " levels"));
    }
    if (++values_ > kMaxObjectValues) {
      throw py::value_error(absl::StrCat("cannot send obj: more than ", kMaxObjectValues,
                                         " values (at ", Path(), ")"));
    }
    SnapshotNode node;
    if (object == Py_None) {
      Add(ValueTag::kNone, 0);
    } else if (PyBool_Check(object)) {
      Add(object == Py_True ? ValueTag::kTrue : ValueTag::kFalse, 0);
    } else if (PyLong_CheckExact(object)) {
      int overflow = 0;
      const long long value = PyLong_AsLongLongAndOverflow(object, &overflow);
      if (overflow != 0) {
        const std::string message =
            absl::StrCat("cannot send ", Path(), ": an int that does not fit in 64 bits");
        PyErr_SetString(PyExc_OverflowError, message.c_str());
        throw py::error_already_set();
      }
      if (write_at_once_) {
        WriteHead(ValueTag::kInt, ZigZag(value));
        return;
      }
      node.tag = ValueTag::kInt;
      node.integer = value;
      Push(node, VarintBytes(ZigZag(value)));
    } else if (PyFloat_CheckExact(object)) {
      node.tag = ValueTag::kFloat;
      node.real = PyFloat_AS_DOUBLE(object);
      if (write_at_once_) {
        Write(&node.tag, 1);
        Write(&node.real, sizeof(node.real));
        return;
      }
      Push(node, sizeof(double));
    } else if (PyUnicode_CheckExact(object)) {
      Py_ssize_t size = 0;
      const char* utf8 = PyUnicode_AsUTF8AndSize(object, &size);
      if (utf8 == nullptr) {
        PyErr_Clear();
        throw py::value_error(absl::StrCat("cannot send ", Path(),
                                           ": a str that is not valid Unicode (lone surrogates)"));
      }
      node.tag = ValueTag::kStr;
      node.bytes = absl::string_view(utf8, size);
      PushBytes(node, object);
    } else if (PyBytes_CheckExact(object)) {
      node.tag = ValueTag::kBytes;
      node.bytes = absl::string_view(PyBytes_AS_STRING(object), PyBytes_GET_SIZE(object));
      PushBytes(node, object);
    } else if (PyList_CheckExact(object) || PyTuple_CheckExact(object)) {
      const bool is_list = PyList_CheckExact(object);
      // Tuples are values (Python shares equal constants between them):
      // one reached twice is sent twice. Lists are objects.
      if (is_list) Remember(object);
      const Py_ssize_t size = is_list ? PyList_GET_SIZE(object) : PyTuple_GET_SIZE(object);
      node.tag = is_list ? ValueTag::kList : ValueTag::kTuple;
      node.count = size;
      PushCount(node);
      path_.push_back({object});
      for (Py_ssize_t i = 0; i < size; ++i) {
        // A list may change under a callback only with the GIL, which we hold.
        path_.back().index = i;
        Visit(is_list ? PyList_GET_ITEM(object, i) : PyTuple_GET_ITEM(object, i));
      }
      path_.pop_back();
    } else if (PyDict_CheckExact(object)) {
      Remember(object);
      node.tag = ValueTag::kDict;
      node.count = PyDict_GET_SIZE(object);
      PushCount(node);
      path_.push_back({object});
      Py_ssize_t position = 0;
      PyObject* key = nullptr;
      PyObject* value = nullptr;
      while (PyDict_Next(object, &position, &key, &value)) {
        path_.back().key = key;
        if (!PyUnicode_CheckExact(key) && !PyLong_CheckExact(key)) {
          path_.pop_back();
          throw py::type_error(absl::StrCat("cannot send ", Path(), ": a dict key of type '",
                                            TypeName(key), "' (keys must be str or int)"));
        }
        path_.back().at_key = true;
        Visit(key);
        path_.back().at_key = false;
        Visit(value);
      }
      path_.pop_back();
    } else if (Py_TYPE(object) == reinterpret_cast<PyTypeObject*>(THPVariableClass)) {
      // Exactly torch.Tensor: THPVariable_CheckExact admits nn.Parameter too,
      // which would arrive as a plain tensor.
      const at::Tensor& tensor = THPVariable_Unpack(object);
      if (!tensor.defined() || !tensor.device().is_cpu()) {
        throw py::type_error(absl::StrCat(
            "cannot send ", Path(), ": a torch.Tensor on ",
            tensor.defined() ? tensor.device().str() : std::string("no device"),
            " (only CPU tensors travel as objects; move it with .cpu())"));
      }
      if (tensor.is_quantized()) {
        throw py::type_error(
            absl::StrCat("cannot send ", Path(), ": a quantized torch.Tensor (",
                         std::string(tensor.dtype().name()), ")"));
      }
      if (write_at_once_) throw WriteLater{};
      Remember(object);  // a tensor reached twice would arrive as two tensors
      at::Tensor contiguous = tensor.detach().contiguous();
      node.tag = ValueTag::kTensor;
      node.integer = static_cast<int64_t>(snapshot_.tensors_.size());
      Push(node, dist::Codec<at::Tensor>::EncodedSize(contiguous));
      snapshot_.tensors_.push_back(std::move(contiguous));
    } else {
      throw py::type_error(absl::StrCat(
          "cannot send ", Path(), ": type '", TypeName(object),
          "' is not plain data (None, bool, int, float, str, bytes, list, tuple, dict with "
          "str/int keys, CPU torch.Tensor; subclasses are refused too)"));
    }
  }

 private:
  // One container on the way down to the value being visited.
  struct Step {
    PyObject* container;
    Py_ssize_t index = 0;     // list, tuple
    PyObject* key = nullptr;  // dict
    bool at_key = false;      // visiting the dict's key itself
  };

  // Where the visited value sits, as Python spells it: obj['layers'][3].
  // Built only for an error message: most objects never need it.
  std::string Path() const {
    std::string path = "obj";
    for (const Step& step : path_) {
      if (step.key == nullptr) {
        absl::StrAppend(&path, "[", step.index, "]");
      } else {
        absl::StrAppend(&path, KeyInPath(step.key));
      }
    }
    if (!path_.empty() && path_.back().at_key) absl::StrAppend(&path, " (its key)");
    return path;
  }

  void Add(ValueTag tag, uint64_t body_bytes) {
    SnapshotNode node;
    node.tag = tag;
    if (write_at_once_) {
      Write(&node.tag, 1);
    } else {
      Push(node, body_bytes);
    }
  }
  void Push(const SnapshotNode& node, uint64_t body_bytes) {
    snapshot_.nodes_.push_back(node);
    snapshot_.encoded_size_ += 1 + body_bytes;
  }
  // A str or bytes: written, or viewed (and `object` kept alive for it).
  void PushBytes(const SnapshotNode& node, PyObject* object) {
    if (write_at_once_) {
      WriteHead(node.tag, node.bytes.size());
      Write(node.bytes.data(), node.bytes.size());
      return;
    }
    Keep(object);
    Push(node, VarintBytes(node.bytes.size()) + node.bytes.size());
  }
  void PushCount(const SnapshotNode& node) {
    if (write_at_once_) {
      WriteHead(node.tag, node.count);
    } else {
      Push(node, VarintBytes(node.count));
    }
  }
  // Writing at once: `written_` grows by doubling and is cut to `length_`
  // at the end (Finish), so that each value is a copy of a few bytes, not
  // a call into std::string.
  void WriteHead(ValueTag tag, uint64_t varint) {
    char* at = Room(1 + kMaxVarintBytes);
    length_ += PutTagAndVarint(static_cast<unsigned char>(tag), varint,
                               reinterpret_cast<unsigned char*>(at));
  }
  void Write(const void* data, size_t size) {
    std::memcpy(Room(size), data, size);
    length_ += size;
  }
  char* Room(size_t size) {
    std::string& out = snapshot_.written_;
    if (length_ + size > out.size()) {
      if (length_ + size > kWrittenAtOnceBytes + 1 + kMaxVarintBytes) throw WriteLater{};
      out.resize(std::max(2 * out.size(), length_ + size));
    }
    return out.data() + length_;
  }

  void Keep(PyObject* object) {
    Py_INCREF(object);
    snapshot_.kept_.push_back(object);
  }

  // Lists, dicts and tensors are sent by value: each may be reached once.
  // Most objects hold a few, so a short list is searched before any hash
  // set is built.
  void Remember(PyObject* object) {
    const bool seen =
        seen_.empty() ? absl::c_linear_search(first_seen_, object) : seen_.contains(object);
    if (seen) {
      const bool on_path = absl::c_any_of(path_, [object](const Step& step) {
        return step.container == object;
      });
      if (on_path) {
        throw py::value_error(absl::StrCat("cannot send ", Path(), ": a cycle (this ",
                                           TypeName(object), " contains itself)"));
      }
      throw py::value_error(absl::StrCat(
          "cannot send ", Path(), ": this ", TypeName(object),
          " is also reached earlier in the object (a shared reference would arrive as two "
          "copies); send a copy"));
    }
    if (!seen_.empty()) {
      seen_.insert(object);
    } else if (first_seen_.size() < kLinearSeen) {
      first_seen_.push_back(object);
    } else {
      seen_.reserve(4 * kLinearSeen);
      seen_.insert(first_seen_.begin(), first_seen_.end());
      seen_.insert(object);
    }
  }

  static constexpr size_t kLinearSeen = 16;

  ObjectSnapshot& snapshot_;
  const bool write_at_once_;
  size_t length_ = 0;  // of written_, when writing at once
  uint64_t values_ = 0;
  std::vector<Step> path_;
  absl::InlinedVector<PyObject*, kLinearSeen> first_seen_;
  absl::flat_hash_set<PyObject*> seen_;  // once first_seen_ is full
};

std::shared_ptr<const ObjectSnapshot> ObjectSnapshot::Take(PyObject* object) {
  std::shared_ptr<ObjectSnapshot> snapshot(new ObjectSnapshot());
  try {
    snapshot->written_.resize(256);
    Walker walker(*snapshot, /*write_at_once=*/true);
    walker.Visit(object);
    walker.Finish();
    return snapshot;
  } catch (const Walker::WriteLater&) {
    // Large, or with a tensor: walked again, as nodes.
  }
  snapshot.reset(new ObjectSnapshot());
  snapshot->nodes_.reserve(64);
  snapshot->kept_.reserve(32);
  Walker(*snapshot, /*write_at_once=*/false).Visit(object);
  return snapshot;
}

ObjectSnapshot::~ObjectSnapshot() {
  if (kept_.empty()) return;
  py::gil_scoped_acquire gil;
  for (PyObject* object : kept_) Py_DECREF(object);
}

}  // namespace fastvideo::python
