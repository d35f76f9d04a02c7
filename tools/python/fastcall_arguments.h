// The arguments of a METH_FASTCALL | METH_KEYWORDS call (a C array and a
// tuple of keyword names, no tuple or dict built), matched to parameter
// names as Python matches them: positional first, then by keyword. A
// missing, unexpected or repeated argument raises the TypeError Python
// would. Needs the GIL; throws pybind11 errors.
#ifndef FASTVIDEO_DIST_TOOLS_PYTHON_FASTCALL_ARGUMENTS_H_
#define FASTVIDEO_DIST_TOOLS_PYTHON_FASTCALL_ARGUMENTS_H_

#include <Python.h>

#include <optional>

#include "absl/types/span.h"

namespace fastvideo::python {

// Fills values[i] with the argument for names[i] (borrowed), or nullptr
// when it was not given; the first `required` names must be given.
void MatchArguments(const char* call, absl::Span<const char* const> names, size_t required,
                    PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames,
                    absl::Span<PyObject*> values);

// An int parameter (a rank): any Python integer that fits in an int.
int IntArgument(PyObject* value, const char* call, const char* name);

// timeout=: seconds as int or float; None or not given means the group's
// default (checked further by the group: finite and >= 0).
std::optional<double> TimeoutArgument(PyObject* value, const char* call);

}  // namespace fastvideo::python

#endif  // FASTVIDEO_DIST_TOOLS_PYTHON_FASTCALL_ARGUMENTS_H_
