#include "tools/python/fastcall_arguments.h"

#include <pybind11/pybind11.h>

#include <climits>

#include "absl/strings/str_cat.h"

namespace fastvideo::python {
namespace py = pybind11;

void MatchArguments(const char* call, absl::Span<const char* const> names, size_t required,
                    PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames,
                    absl::Span<PyObject*> values) {
  const size_t positional = static_cast<size_t>(PyVectorcall_NARGS(nargs));
  if (positional > names.size()) {
    throw py::type_error(absl::StrCat(call, "() takes at most ", names.size(),
                                      " arguments (", positional, " given)"));
  }
  for (size_t i = 0; i < names.size(); ++i) values[i] = i < positional ? args[i] : nullptr;
  const Py_ssize_t keywords = kwnames == nullptr ? 0 : PyTuple_GET_SIZE(kwnames);
  for (Py_ssize_t k = 0; k < keywords; ++k) {
    PyObject* keyword = PyTuple_GET_ITEM(kwnames, k);
    size_t i = 0;
    while (i < names.size() && PyUnicode_CompareWithASCIIString(keyword, names[i]) != 0) ++i;
    if (i == names.size()) {
      throw py::type_error(absl::StrCat(call, "() got an unexpected keyword argument '",
                                        PyUnicode_AsUTF8(keyword), "'"));
    }
    if (values[i] != nullptr) {
      throw py::type_error(
          absl::StrCat(call, "() got multiple values for argument '", names[i], "'"));
    }
    values[i] = args[positional + k];
  }
  for (size_t i = 0; i < required; ++i) {
    if (values[i] == nullptr) {
      throw py::type_error(
          absl::StrCat(call, "() missing required argument '", names[i], "'"));
    }
  }
}

int IntArgument(PyObject* value, const char* call, const char* name) {
  if (!PyIndex_Check(value) || PyBool_Check(value)) {
    throw py::type_error(absl::StrCat(call, "(): ", name, " must be an int, not '",
                                      Py_TYPE(value)->tp_name, "'"));
  }
  int overflow = 0;
  const long result = PyLong_Check(value) ? PyLong_AsLongAndOverflow(value, &overflow)
                                          : PyNumber_AsSsize_t(value, nullptr);
  if (result == -1 && PyErr_Occurred()) throw py::error_already_set();
  if (overflow != 0 || result < INT_MIN || result > INT_MAX) {
    throw py::value_error(absl::StrCat(call, "(): ", name, " is out of range"));
  }
  return static_cast<int>(result);
}

std::optional<double> TimeoutArgument(PyObject* value, const char* call) {
  if (value == nullptr || value == Py_None) return std::nullopt;
  if (!PyFloat_Check(value) && !PyLong_Check(value)) {
    throw py::type_error(absl::StrCat(call, "(): timeout must be seconds (int or float) or "
                                      "None, not '", Py_TYPE(value)->tp_name, "'"));
  }
  const double seconds = PyFloat_AsDouble(value);
  if (seconds == -1.0 && PyErr_Occurred()) throw py::error_already_set();
  return seconds;
}

}  // namespace fastvideo::python
