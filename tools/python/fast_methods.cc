#include "tools/python/fast_methods.h"

#include <exception>

#include "tools/python/fastcall_arguments.h"
#include "tools/python/py_process_group.h"
#include "tools/python/status_exception.h"

namespace fastvideo::python {
namespace py = pybind11;

namespace {

const py::detail::type_info* group_type_info = nullptr;  // set at import

// The PyProcessGroup inside a pybind11 instance (the method descriptor has
// checked that `self` is one), without pybind11's lookup by type name.
PyProcessGroup& Self(PyObject* self) {
  auto* instance = reinterpret_cast<py::detail::instance*>(self);
  py::detail::value_and_holder held =
      instance->get_value_and_holder(group_type_info, /*throw_if_missing=*/true);
  if (!held.holder_constructed()) {
    throw py::type_error("StatelessProcessGroup: not created by from_comm() or create()");
  }
  return *static_cast<PyProcessGroup*>(held.value_ptr());
}

// Runs a method body; a C++ exception becomes the Python exception the
// pybind11 methods raise for it.
template <typename Body>
PyObject* Guarded(Body&& body) noexcept {
  try {
    return body();
  } catch (py::error_already_set& error) {
    error.restore();
  } catch (const py::builtin_exception& error) {
    error.set_error();
  } catch (const StatusError& error) {
    SetPythonError(error.status());
  } catch (const std::exception& error) {
    PyErr_SetString(PyExc_RuntimeError, error.what());
  }
  return nullptr;
}

PyObject* SendObj(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return Guarded([&] {
    static constexpr const char* kNames[] = {"obj", "dst", "timeout"};
    PyObject* values[3];
    MatchArguments("send_obj", kNames, 2, args, nargs, kwnames, values);
    Self(self).send_obj(values[0], IntArgument(values[1], "send_obj", "dst"),
                        TimeoutArgument(values[2], "send_obj"));
    Py_RETURN_NONE;
  });
}

PyObject* RecvObj(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return Guarded([&] {
    static constexpr const char* kNames[] = {"src", "timeout"};
    PyObject* values[2];
    MatchArguments("recv_obj", kNames, 1, args, nargs, kwnames, values);
    return Self(self)
        .recv_obj(IntArgument(values[0], "recv_obj", "src"),
                  TimeoutArgument(values[1], "recv_obj"))
        .release()
        .ptr();
  });
}

PyObject* BroadcastObj(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                       PyObject* kwnames) {
  return Guarded([&] {
    static constexpr const char* kNames[] = {"obj", "src", "timeout"};
    PyObject* values[3];
    MatchArguments("broadcast_obj", kNames, 2, args, nargs, kwnames, values);
    return Self(self)
        .broadcast_obj(values[0], IntArgument(values[1], "broadcast_obj", "src"),
                       TimeoutArgument(values[2], "broadcast_obj"))
        .release()
        .ptr();
  });
}

PyObject* AllGatherObj(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                       PyObject* kwnames) {
  return Guarded([&] {
    static constexpr const char* kNames[] = {"obj", "timeout"};
    PyObject* values[2];
    MatchArguments("all_gather_obj", kNames, 1, args, nargs, kwnames, values);
    return Self(self)
        .all_gather_obj(values[0], TimeoutArgument(values[1], "all_gather_obj"))
        .release()
        .ptr();
  });
}

PyObject* Barrier(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return Guarded([&] {
    static constexpr const char* kNames[] = {"timeout"};
    PyObject* values[1];
    MatchArguments("barrier", kNames, 0, args, nargs, kwnames, values);
    Self(self).barrier(TimeoutArgument(values[0], "barrier"));
    Py_RETURN_NONE;
  });
}

template <auto Method>
PyCFunction Fastcall() {
  return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(Method));
}

// The docstrings start with the signature, for help() and inspect.
PyMethodDef methods[] = {
    {"send_obj", Fastcall<SendObj>(), METH_FASTCALL | METH_KEYWORDS,
     "send_obj($self, /, obj, dst, timeout=None)\n--\n\n"
     "Sends plain data to rank dst (returns once it is published; dst reads it with "
     "recv_obj)."},
    {"recv_obj", Fastcall<RecvObj>(), METH_FASTCALL | METH_KEYWORDS,
     "recv_obj($self, /, src, timeout=None)\n--\n\n"
     "The next object rank src sent to this rank, in order."},
    {"broadcast_obj", Fastcall<BroadcastObj>(), METH_FASTCALL | METH_KEYWORDS,
     "broadcast_obj($self, /, obj, src, timeout=None)\n--\n\n"
     "Rank src's obj, on every rank (src gets its own obj back)."},
    {"all_gather_obj", Fastcall<AllGatherObj>(), METH_FASTCALL | METH_KEYWORDS,
     "all_gather_obj($self, /, obj, timeout=None)\n--\n\n"
     "Every rank's obj, as a list indexed by rank."},
    {"barrier", Fastcall<Barrier>(), METH_FASTCALL | METH_KEYWORDS,
     "barrier($self, /, timeout=None)\n--\n\n"
     "Returns once every rank of the group has called barrier()."},
};

}  // namespace

void InstallFastMethods(py::handle group_class) {
  auto* type = reinterpret_cast<PyTypeObject*>(group_class.ptr());
  group_type_info = py::detail::get_type_info(type);
  for (PyMethodDef& method : methods) {
    py::object descriptor = py::reinterpret_steal<py::object>(PyDescr_NewMethod(type, &method));
    if (!descriptor) throw py::error_already_set();
    group_class.attr(method.ml_name) = descriptor;
  }
}

}  // namespace fastvideo::python
