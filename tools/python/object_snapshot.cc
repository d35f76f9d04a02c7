#include "tools/python/object_snapshot.h"

#include <pybind11/pybind11.h>
#include <torch/csrc/autograd/python_variable.h>

#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "dist/torch_codec.h"

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
  explicit Walker(ObjectSnapshot& snapshot) : snapshot_(snapshot) {}

  void Visit(PyObject* object, const std::string& path, int depth) {
    if (depth > kMaxObjectNesting) {
      throw py::value_error(absl::StrCat("cannot send ", path, ": nested deeper than ",
                                         kMaxObjectNesting, " levels"));
    }
    if (++values_ > kMaxObjectValues) {
      throw py::value_error(absl::StrCat("cannot send obj: more than ", kMaxObjectValues,
                                         " values (at ", path, ")"));
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
            absl::StrCat("cannot send ", path, ": an int that does not fit in 64 bits");
        PyErr_SetString(PyExc_OverflowError, message.c_str());
        throw py::error_already_set();
      }
      node.tag = ValueTag::kInt;
      node.integer = value;
      Push(node, sizeof(int64_t));
    } else if (PyFloat_CheckExact(object)) {
      node.tag = ValueTag::kFloat;
      node.real = PyFloat_AS_DOUBLE(object);
      Push(node, sizeof(double));
    } else if (PyUnicode_CheckExact(object)) {
      Py_ssize_t size = 0;
      const char* utf8 = PyUnicode_AsUTF8AndSize(object, &size);
      if (utf8 == nullptr) {
        PyErr_Clear();
        throw py::value_error(absl::StrCat("cannot send ", path,
                                           ": a str that is not valid Unicode (lone surrogates)"));
      }
      node.tag = ValueTag::kStr;
      node.bytes = absl::string_view(utf8, size);
      Keep(object);
      Push(node, sizeof(uint64_t) + size);
    } else if (PyBytes_CheckExact(object)) {
      node.tag = ValueTag::kBytes;
      node.bytes = absl::string_view(PyBytes_AS_STRING(object), PyBytes_GET_SIZE(object));
      Keep(object);
      Push(node, sizeof(uint64_t) + node.bytes.size());
    } else if (PyList_CheckExact(object) || PyTuple_CheckExact(object)) {
      const bool is_list = PyList_CheckExact(object);
      // Tuples are values (Python shares equal constants between them):
      // one reached twice is sent twice. Lists are objects.
      if (is_list) Enter(object, path);
      const Py_ssize_t size = is_list ? PyList_GET_SIZE(object) : PyTuple_GET_SIZE(object);
      node.tag = is_list ? ValueTag::kList : ValueTag::kTuple;
      node.count = size;
      Push(node, sizeof(uint64_t));
      for (Py_ssize_t i = 0; i < size; ++i) {
        // A list may change under a callback only with the GIL, which we hold.
        PyObject* item = is_list ? PyList_GET_ITEM(object, i) : PyTuple_GET_ITEM(object, i);
        Visit(item, absl::StrCat(path, "[", i, "]"), depth + 1);
      }
      if (is_list) Leave(object);
    } else if (PyDict_CheckExact(object)) {
      Enter(object, path);
      node.tag = ValueTag::kDict;
      node.count = PyDict_GET_SIZE(object);
      Push(node, sizeof(uint64_t));
      Py_ssize_t position = 0;
      PyObject* key = nullptr;
      PyObject* value = nullptr;
      while (PyDict_Next(object, &position, &key, &value)) {
        if (!PyUnicode_CheckExact(key) && !PyLong_CheckExact(key)) {
          throw py::type_error(absl::StrCat("cannot send ", path, ": a dict key of type '",
                                            TypeName(key), "' (keys must be str or int)"));
        }
        const std::string value_path = absl::StrCat(path, KeyInPath(key));
        Visit(key, absl::StrCat(value_path, " (its key)"), depth + 1);
        Visit(value, value_path, depth + 1);
      }
      Leave(object);
    } else if (Py_TYPE(object) == reinterpret_cast<PyTypeObject*>(THPVariableClass)) {
      // Exactly torch.Tensor: THPVariable_CheckExact admits nn.Parameter too,
      // which would arrive as a plain tensor.
      const at::Tensor& tensor = THPVariable_Unpack(object);
      if (!tensor.defined() || !tensor.device().is_cpu()) {
        throw py::type_error(absl::StrCat(
            "cannot send ", path, ": a torch.Tensor on ",
            tensor.defined() ? tensor.device().str() : std::string("no device"),
            " (only CPU tensors travel as objects; move it with .cpu())"));
      }
      if (tensor.is_quantized()) {
        throw py::type_error(
            absl::StrCat("cannot send ", path, ": a quantized torch.Tensor (",
                         std::string(tensor.dtype().name()), ")"));
      }
      Enter(object, path);
      Leave(object);  // a tensor reached twice would arrive as two tensors
      at::Tensor contiguous = tensor.detach().contiguous();
      node.tag = ValueTag::kTensor;
      node.integer = static_cast<int64_t>(snapshot_.tensors_.size());
      Push(node, dist::Codec<at::Tensor>::EncodedSize(contiguous));
      snapshot_.tensors_.push_back(std::move(contiguous));
    } else {
      throw py::type_error(absl::StrCat(
          "cannot send ", path, ": type '", TypeName(object),
          "' is not plain data (None, bool, int, float, str, bytes, list, tuple, dict with "
          "str/int keys, CPU torch.Tensor; subclasses are refused too)"));
    }
  }

 private:
  void Add(ValueTag tag, uint64_t body_bytes) {
    SnapshotNode node;
    node.tag = tag;
    Push(node, body_bytes);
  }
  void Push(const SnapshotNode& node, uint64_t body_bytes) {
    snapshot_.nodes_.push_back(node);
    snapshot_.encoded_size_ += 1 + body_bytes;
  }
  void Keep(PyObject* object) {
    Py_INCREF(object);
    snapshot_.kept_.push_back(object);
  }
  // Lists, dicts and tensors are sent by value: each may be reached once.
  void Enter(PyObject* object, const std::string& path) {
    if (on_path_.contains(object)) {
      throw py::value_error(absl::StrCat("cannot send ", path, ": a cycle (this ",
                                         TypeName(object), " contains itself)"));
    }
    if (!seen_.insert(object).second) {
      throw py::value_error(absl::StrCat(
          "cannot send ", path, ": this ", TypeName(object),
          " is also reached earlier in the object (a shared reference would arrive as two "
          "copies); send a copy"));
    }
    on_path_.insert(object);
  }
  void Leave(PyObject* object) { on_path_.erase(object); }

  ObjectSnapshot& snapshot_;
  uint64_t values_ = 0;
  absl::flat_hash_set<PyObject*> seen_;
  absl::flat_hash_set<PyObject*> on_path_;
};

std::shared_ptr<const ObjectSnapshot> ObjectSnapshot::Take(PyObject* object) {
  std::shared_ptr<ObjectSnapshot> snapshot(new ObjectSnapshot());
  Walker(*snapshot).Visit(object, "obj", 0);
  return snapshot;
}

ObjectSnapshot::~ObjectSnapshot() {
  if (kept_.empty()) return;
  py::gil_scoped_acquire gil;
  for (PyObject* object : kept_) Py_DECREF(object);
}

}  // namespace fastvideo::python
