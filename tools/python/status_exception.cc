#include "tools/python/status_exception.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace fastvideo::python {
namespace py = pybind11;

namespace {

// The classes, created once at import (module objects live until exit).
struct ExceptionClasses {
  PyObject* base = nullptr;
  PyObject* deadline_exceeded = nullptr;
  PyObject* message_type = nullptr;
  PyObject* invalid_argument = nullptr;
  PyObject* unavailable = nullptr;
  PyObject* not_found = nullptr;
  PyObject* data_loss = nullptr;
  PyObject* failed_precondition = nullptr;
  PyObject* already_exists = nullptr;
  PyObject* resource_exhausted = nullptr;
  PyObject* internal = nullptr;
};
ExceptionClasses classes;

PyObject* NewClass(py::module_& module, const char* name, const char* doc,
                   std::initializer_list<PyObject*> bases) {
  py::tuple base_tuple(bases.size());
  size_t i = 0;
  for (PyObject* base : bases) base_tuple[i++] = py::reinterpret_borrow<py::object>(base);
  const std::string qualified = absl::StrCat("fastvideo_dist.", name);
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, base_tuple.ptr(), nullptr);
  if (type == nullptr) throw py::error_already_set();
  module.add_object(name, py::reinterpret_borrow<py::object>(type));
  return type;
}

PyObject* ClassOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kDeadlineExceeded:
      return classes.deadline_exceeded;
    case absl::StatusCode::kInvalidArgument:
      // The group keeps a payload asked for as another type (see
      // StatelessProcessGroup::recv_obj) and says so.
      return absl::StrContains(status.message(), "stays queued") ? classes.message_type
                                                                 : classes.invalid_argument;
    case absl::StatusCode::kUnavailable:
      return classes.unavailable;
    case absl::StatusCode::kNotFound:
      return classes.not_found;
    case absl::StatusCode::kDataLoss:
      return classes.data_loss;
    case absl::StatusCode::kFailedPrecondition:
      return classes.failed_precondition;
    case absl::StatusCode::kAlreadyExists:
      return classes.already_exists;
    case absl::StatusCode::kResourceExhausted:
      return classes.resource_exhausted;
    default:
      return classes.internal;
  }
}

}  // namespace

void SetPythonError(const absl::Status& status) {
  // Not PyErr_SetString: a message that is not UTF-8 would become an
  // exception without one.
  const absl::string_view message = status.message();
  PyObject* text = PyUnicode_DecodeUTF8(message.data(), static_cast<Py_ssize_t>(message.size()),
                                        "backslashreplace");
  if (text == nullptr) return;  // MemoryError is set
  PyErr_SetObject(ClassOf(status), text);
  Py_DECREF(text);
}

void RegisterExceptions(py::module_& module) {
  classes.base = NewClass(module, "Error", "Base class of fastvideo_dist's errors.",
                          {PyExc_Exception});
  classes.deadline_exceeded =
      NewClass(module, "DeadlineExceededError", "A blocking call ran out of time.",
               {classes.base, PyExc_TimeoutError});
  classes.message_type = NewClass(
      module, "MessageTypeError",
      "The next message from that peer is of another type; it stays queued.",
      {classes.base, PyExc_TypeError});
  classes.invalid_argument = NewClass(module, "InvalidArgumentError",
                                      "A bad peer, rank, size or argument.",
                                      {classes.base, PyExc_ValueError});
  classes.unavailable = NewClass(module, "UnavailableError",
                                 "A peer is gone (its job died or left).",
                                 {classes.base, PyExc_RuntimeError});
  classes.not_found = NewClass(module, "NotFoundError",
                               "The message expired before it was read.",
                               {classes.base, PyExc_RuntimeError});
  classes.data_loss = NewClass(module, "DataLossError", "A corrupt or truncated message.",
                               {classes.base, PyExc_RuntimeError});
  classes.failed_precondition = NewClass(
      module, "FailedPreconditionError",
      "The group is closed, or the MPI runtime cannot do what was asked.",
      {classes.base, PyExc_RuntimeError});
  classes.already_exists = NewClass(module, "AlreadyExistsError",
                                    "The port is taken.", {classes.base, PyExc_RuntimeError});
  classes.resource_exhausted =
      NewClass(module, "ResourceExhaustedError", "The message does not fit.",
               {classes.base, PyExc_RuntimeError});
  classes.internal = NewClass(module, "InternalError", "Any other failure.",
                              {classes.base, PyExc_RuntimeError});

  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const StatusError& e) {
      SetPythonError(e.status());
    }
  });
}

}  // namespace fastvideo::python
