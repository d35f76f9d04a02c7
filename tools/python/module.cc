// fastvideo_dist._core: the CPython extension behind `import fastvideo_dist`
// (the package's __init__.py checks the interpreter, then loads this).
// Names and arguments are the original fastvideo.distributed.utils'.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <torch/csrc/autograd/python_variable.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "tensor/divisibility.h"
#include "tensor/sequence_padding.h"
#include "tensor/split.h"
#include "tools/python/fast_methods.h"
#include "tools/python/mpi_session.h"
#include "tools/python/object_codec.h"
#include "tools/python/object_snapshot.h"
#include "tools/python/py_process_group.h"
#include "tools/python/status_exception.h"
#include "tools/python/tensor_argument.h"

namespace fastvideo::python {
namespace {
namespace py = pybind11;
using Timeout = PyProcessGroup::Timeout;

GroupOptions MakeOptions(const std::string& name, int64_t data_expiration_seconds,
                         double default_timeout, uint64_t window_bytes, uint64_t inbox_slots,
                         uint64_t inbox_slot_bytes, bool verify_payloads) {
  if (data_expiration_seconds <= 0) {
    throw py::value_error("data_expiration_seconds must be > 0");
  }
  if (!(default_timeout > 0)) throw py::value_error("default_timeout must be > 0 seconds");
  GroupOptions options;
  options.name = name;
  options.data_expiration_seconds = data_expiration_seconds;
  options.default_timeout = absl::Seconds(default_timeout);
  options.window_bytes = window_bytes;
  options.inbox_slots = inbox_slots;
  options.inbox_slot_bytes = inbox_slot_bytes;
  options.verify_payloads = verify_payloads;
  return options;
}

py::object Wrap(at::Tensor tensor) {
  return py::reinterpret_steal<py::object>(THPVariable_Wrap(std::move(tensor)));
}

// The helpers' TORCH_CHECK failures, as the original raises them: its
// divisibility checks are asserts (AssertionError), the rest ValueError.
template <typename Helper>
auto Checked(Helper&& helper) {
  try {
    return helper();
  } catch (const c10::Error& error) {
    const std::string message = error.what_without_backtrace();
    if (absl::StrContains(message, "is not divisible by")) {
      PyErr_SetString(PyExc_AssertionError, message.c_str());
    } else {
      PyErr_SetString(PyExc_ValueError, message.c_str());
    }
    throw py::error_already_set();
  }
}

constexpr const char* kGroupDoc = R"doc(
A metadata/object channel between ranks, with the original's API:
send_obj/recv_obj, broadcast_obj, all_gather_obj, barrier, expire_data and
the per-peer counters. Objects are plain data (None, bool, int, float, str,
bytes, list, tuple, dict with str/int keys, CPU torch.Tensor), sent by this
module's codec, never pickled. Every blocking call takes timeout= (seconds;
None: the group's default_timeout) and raises DeadlineExceededError (a
TimeoutError) naming the peer and the key. Calls from several threads take
turns; the GIL is released while a call waits.
)doc";

}  // namespace
}  // namespace fastvideo::python

PYBIND11_MODULE(_core, module) {
  namespace py = pybind11;
  using namespace fastvideo::python;  // NOLINT: the module's own helpers
  module.doc() = "fastvideo_dist's C++ core (import fastvideo_dist, not this).";
  RegisterExceptions(module);

  py::class_<PyProcessGroup, std::shared_ptr<PyProcessGroup>> group(
      module, "StatelessProcessGroup", kGroupDoc);
  group
      .def_static(
          "from_comm",
          [](py::object comm, std::optional<std::vector<int>> ranks, const std::string& name,
             int64_t data_expiration_seconds, Timeout timeout, double default_timeout,
             uint64_t window_bytes, uint64_t inbox_slots, uint64_t inbox_slot_bytes,
             bool verify_payloads) {
            return PyProcessGroup::FromComm(
                comm, std::move(ranks),
                MakeOptions(name, data_expiration_seconds, default_timeout, window_bytes,
                            inbox_slots, inbox_slot_bytes, verify_payloads),
                timeout);
          },
          py::arg("comm") = py::none(), py::arg("ranks") = py::none(), py::kw_only(),
          py::arg("name") = "", py::arg("data_expiration_seconds") = 3600,
          py::arg("timeout") = py::none(), py::arg("default_timeout") = 300.0,
          py::arg("window_bytes") = uint64_t{32} << 20, py::arg("inbox_slots") = 16,
          py::arg("inbox_slot_bytes") = 0, py::arg("verify_payloads") = false,
          "A group of every rank of comm (None: MPI_COMM_WORLD; or an mpi4py.MPI.Comm), "
          "or of its listed ranks only (group rank i is comm rank ranks[i]); collective over "
          "those ranks. timeout: seconds to wait for all of them.")
      .def_static(
          "create",
          [](const std::string& host, int port, int rank, int world_size,
             int64_t data_expiration_seconds, Timeout timeout, const std::string& name,
             double default_timeout, uint64_t window_bytes, uint64_t inbox_slots,
             uint64_t inbox_slot_bytes, bool verify_payloads) {
            return PyProcessGroup::Create(
                host, port, rank, world_size,
                MakeOptions(name, data_expiration_seconds, default_timeout, window_bytes,
                            inbox_slots, inbox_slot_bytes, verify_payloads),
                timeout);
          },
          py::arg("host"), py::arg("port"), py::arg("rank"), py::arg("world_size"),
          py::arg("data_expiration_seconds") = 3600, py::kw_only(),
          py::arg("timeout") = py::none(), py::arg("name") = "",
          py::arg("default_timeout") = 300.0, py::arg("window_bytes") = uint64_t{32} << 20,
          py::arg("inbox_slots") = 16, py::arg("inbox_slot_bytes") = 0,
          py::arg("verify_payloads") = false,
          "The original's create(): one group of processes that may belong to separately "
          "launched MPI jobs. Group rank 0 listens on host:port; every process of this job "
          "calls with its own group rank. Jobs must share an ompi-server "
          "(fastvideo-ompi-server, fastvideo-mpilaunch --ompi-server).")
      .def("expire_data", &PyProcessGroup::expire_data)
      .def("progress", &PyProcessGroup::progress)
      .def("send", &PyProcessGroup::send, py::arg("tensor"), py::arg("dst"),
           py::arg("timeout") = py::none())
      .def("recv", &PyProcessGroup::recv, py::arg("tensor"), py::arg("src"),
           py::arg("timeout") = py::none())
      .def("broadcast", &PyProcessGroup::broadcast, py::arg("tensor"), py::arg("src"),
           py::arg("timeout") = py::none())
      .def("all_reduce", &PyProcessGroup::all_reduce, py::arg("tensor"),
           py::arg("op") = "sum", py::arg("timeout") = py::none())
      .def("close", &PyProcessGroup::close, py::arg("timeout") = py::none(),
           "Collective: frees the group; later calls raise FailedPreconditionError.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__",
           [](PyProcessGroup& self, py::handle, py::handle, py::handle) { self.close({}); })
      .def_property_readonly("closed", &PyProcessGroup::closed)
      .def_property_readonly("rank", &PyProcessGroup::rank)
      .def_property_readonly("world_size", &PyProcessGroup::world_size)
      .def_property_readonly("name", &PyProcessGroup::name)
      .def_property_readonly("data_expiration_seconds",
                             &PyProcessGroup::data_expiration_seconds)
      .def_property_readonly("send_dst_counter", &PyProcessGroup::send_dst_counter)
      .def_property_readonly("recv_src_counter", &PyProcessGroup::recv_src_counter)
      .def_property_readonly("broadcast_send_counter",
                             &PyProcessGroup::broadcast_send_counter)
      .def_property_readonly("broadcast_recv_src_counter",
                             &PyProcessGroup::broadcast_recv_src_counter)
      .def_property_readonly("entries", &PyProcessGroup::entries)
      .def_property_readonly("stats", &PyProcessGroup::stats)
      .def("__repr__", [](const PyProcessGroup& self) {
        return "<fastvideo_dist.StatelessProcessGroup '" + self.name() + "' rank " +
               std::to_string(self.rank()) + " of " + std::to_string(self.world_size()) +
               (self.closed() ? ", closed>" : ">");
      });

  InstallFastMethods(group);  // send_obj, recv_obj, broadcast_obj, all_gather_obj, barrier

  module.def("_shutdown", [](double timeout) {
    Shutdown([timeout] { PyProcessGroup::CloseAll(timeout); });
  });

  // The object codec alone, for tests/python/test_codec.py: a framed
  // payload as send_obj sends it, and an object from one as recv_obj builds it.
  module.def("_encode", [](py::handle obj) {
    const std::string payload =
        fastvideo::dist::Encode(PyMessage{ObjectSnapshot::Take(obj.ptr()), {}, {}});
    return py::bytes(payload);
  });
  module.def("_decode", [](py::bytes payload) {
    char* data = nullptr;
    Py_ssize_t size = 0;
    PyBytes_AsStringAndSize(payload.ptr(), &data, &size);
    PyMessage message;
    ThrowIfError(fastvideo::dist::DecodeInto(absl::string_view(data, size), message));
    ThrowIfError(BuildReceived(message));
    return py::reinterpret_steal<py::object>(message.incoming.release());
  });

  module.def(
      "divide",
      [](int64_t numerator, int64_t denominator) {
        return Checked([&] { return fastvideo::divide(numerator, denominator); });
      },
      py::arg("numerator"), py::arg("denominator"));
  module.def(
      "ensure_divisibility",
      [](int64_t numerator, int64_t denominator) {
        Checked([&] { fastvideo::ensure_divisibility(numerator, denominator); });
      },
      py::arg("numerator"), py::arg("denominator"));
  module.def(
      "split_tensor_along_last_dim",
      [](py::handle tensor, int64_t num_partitions, bool contiguous_split_chunks) {
        const at::Tensor input = TensorArgument(tensor, "split_tensor_along_last_dim");
        std::vector<at::Tensor> chunks = Checked([&] {
          return fastvideo::split_tensor_along_last_dim(input, num_partitions,
                                                        contiguous_split_chunks);
        });
        py::tuple result(chunks.size());  // torch.split returns a tuple
        for (size_t i = 0; i < chunks.size(); ++i) result[i] = Wrap(std::move(chunks[i]));
        return result;
      },
      py::arg("tensor"), py::arg("num_partitions"), py::arg("contiguous_split_chunks") = false);
  module.def(
      "compute_padding_for_sp",
      [](int64_t seq_len, int64_t sp_world_size) {
        return Checked([&] { return fastvideo::compute_padding_for_sp(seq_len, sp_world_size); });
      },
      py::arg("seq_len"), py::arg("sp_world_size"));
  module.def(
      "pad_sequence_tensor",
      [](py::handle tensor, int64_t target_seq_len, int64_t seq_dim, double pad_value) {
        const at::Tensor input = TensorArgument(tensor, "pad_sequence_tensor");
        at::Tensor padded = Checked([&] {
          return fastvideo::pad_sequence_tensor(input, target_seq_len, seq_dim, pad_value);
        });
        // Already long enough: the original returns its argument itself.
        if (padded.is_same(input)) return py::reinterpret_borrow<py::object>(tensor);
        return Wrap(std::move(padded));
      },
      py::arg("tensor"), py::arg("target_seq_len"), py::arg("seq_dim") = 1,
      py::arg("pad_value") = 0.0);
  module.def(
      "unpad_sequence_tensor",
      [](py::handle tensor, int64_t original_seq_len, int64_t seq_dim) {
        const at::Tensor input = TensorArgument(tensor, "unpad_sequence_tensor");
        return Wrap(Checked([&] {
          return fastvideo::unpad_sequence_tensor(input, original_seq_len, seq_dim);
        }));
      },
      py::arg("tensor"), py::arg("original_seq_len"), py::arg("seq_dim") = 1);
}
