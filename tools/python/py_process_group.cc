#include "tools/python/py_process_group.h"

#include <torch/csrc/autograd/python_variable.h>

#include <cmath>
#include <mutex>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "dist/torch_codec.h"
#include "tools/python/mpi_session.h"
#include "tools/python/object_codec.h"
#include "tools/python/object_snapshot.h"
#include "tools/python/status_exception.h"
#include "tools/python/tensor_argument.h"

namespace fastvideo::python {
namespace py = pybind11;

namespace {

// The groups still open, for CloseAll at exit. Touched with the GIL held.
absl::flat_hash_set<PyProcessGroup*>& LiveGroups() {
  static auto* groups = new absl::flat_hash_set<PyProcessGroup*>();
  return *groups;
}

StatelessProcessGroup::Deadline ToDeadline(PyProcessGroup::Timeout timeout) {
  if (!timeout.has_value()) return std::nullopt;
  if (!(*timeout >= 0) || std::isinf(*timeout)) {
    throw py::value_error(absl::StrCat("timeout must be a finite number of seconds >= 0, not ",
                                       *timeout));
  }
  return absl::Now() + absl::Seconds(*timeout);
}

// Runs `call` without the GIL, holding CallLock (in that order, so no
// thread ever holds the GIL while it waits for CallLock).
template <typename Call>
auto Unlocked(Call&& call) {
  py::gil_scoped_release unlocked;
  std::lock_guard<std::mutex> lock(CallLock());
  return call();
}

ReduceOp ReduceOpNamed(const std::string& name) {
  const std::string op = absl::AsciiStrToLower(name);
  if (op == "sum") return ReduceOp::kSum;
  if (op == "product" || op == "prod") return ReduceOp::kProduct;
  if (op == "min") return ReduceOp::kMin;
  if (op == "max") return ReduceOp::kMax;
  throw py::value_error(
      absl::StrCat("all_reduce: op must be 'sum', 'product', 'min' or 'max', not '", name, "'"));
}

py::dict CounterDict(const std::vector<uint64_t>& counts) {
  py::dict result;
  for (size_t rank = 0; rank < counts.size(); ++rank) result[py::int_(rank)] = counts[rank];
  return result;
}

// Creation failed: say what mpi4py users can do about the usual cause.
absl::Status WithThreadHint(absl::Status status) {
  if (status.ok() || MpiThreadLevel() != MPI_THREAD_MULTIPLE) return status;
  return absl::Status(
      status.code(),
      absl::StrCat(status.message(),
                   " (MPI runs at MPI_THREAD_MULTIPLE, which osc/pt2pt, the TCP transport, "
                   "refuses: with mpi4py, set mpi4py.rc.thread_level = 'serialized' before "
                   "importing mpi4py.MPI)"));
}

std::shared_ptr<PyProcessGroup> Adopt(absl::StatusOr<StatelessProcessGroup> group) {
  if (!group.ok()) throw StatusError(WithThreadHint(group.status()));
  return std::make_shared<PyProcessGroup>(*std::move(group));
}

}  // namespace

std::shared_ptr<PyProcessGroup> PyProcessGroup::FromComm(
    py::handle comm, std::optional<std::vector<int>> ranks, GroupOptions options,
    Timeout timeout) {
  EnsureMpi();
  MPI_Comm parent = CommFromPython(comm);
  const StatelessProcessGroup::Deadline deadline = ToDeadline(timeout);
  absl::StatusOr<StatelessProcessGroup> group = Unlocked([&] {
    return ranks.has_value() ? StatelessProcessGroup::CreateFromRanks(
                                   parent, *std::move(ranks), std::move(options), deadline)
                             : StatelessProcessGroup::Create(parent, std::move(options), deadline);
  });
  return Adopt(std::move(group));
}

std::shared_ptr<PyProcessGroup> PyProcessGroup::Create(const std::string& host, int port,
                                                       int rank, int world_size,
                                                       GroupOptions options, Timeout timeout) {
  EnsureMpi();
  const StatelessProcessGroup::Deadline deadline = ToDeadline(timeout);
  absl::StatusOr<StatelessProcessGroup> group = Unlocked([&] {
    return StatelessProcessGroup::Create(host, port, rank, world_size, std::move(options),
                                         MPI_COMM_WORLD, deadline);
  });
  return Adopt(std::move(group));
}

void PyProcessGroup::CloseAll(double timeout) {
  // Copied: close() unregisters.
  const std::vector<PyProcessGroup*> groups(LiveGroups().begin(), LiveGroups().end());
  for (PyProcessGroup* group : groups) {
    try {
      group->close(timeout);
    } catch (const StatusError& error) {
      PySys_WriteStderr("fastvideo_dist: at exit, %s\n",
                        std::string(error.status().message()).c_str());
    }
  }
}

PyProcessGroup::PyProcessGroup(StatelessProcessGroup group)
    : rank_(group.rank()),
      world_size_(group.world_size()),
      name_(group.name()),
      data_expiration_seconds_(group.data_expiration_seconds()) {
  group_.emplace(std::move(group));
  LiveGroups().insert(this);
}

PyProcessGroup::~PyProcessGroup() {
  LiveGroups().erase(this);
  if (!group_.has_value()) return;
  Unlocked([&] { group_.reset(); });  // collective and bounded (see Close)
}

StatelessProcessGroup& PyProcessGroup::Open(const char* call) const {
  if (!group_.has_value()) {
    throw StatusError(absl::FailedPreconditionError(
        absl::StrCat("group '", name_, "' rank ", rank_, ": ", call, " after close()")));
  }
  return *group_;
}

void PyProcessGroup::send_obj(py::handle obj, int dst, Timeout timeout) {
  const auto deadline = ToDeadline(timeout);
  const std::shared_ptr<const ObjectSnapshot> snapshot = ObjectSnapshot::Take(obj.ptr());
  ThrowIfError(Unlocked([&] { return Open("send_obj").send_obj(PyMessage{snapshot, {}, {}}, dst, deadline); }));
}

py::object PyProcessGroup::recv_obj(int src, Timeout timeout) {
  const auto deadline = ToDeadline(timeout);
  PyMessage message;
  ThrowIfError(Unlocked([&] { return Open("recv_obj").recv_obj_into(message, src, deadline); }));
  ThrowIfError(BuildReceived(message));
  return py::reinterpret_steal<py::object>(message.incoming.release());
}

py::object PyProcessGroup::broadcast_obj(py::handle obj, int src, Timeout timeout) {
  const auto deadline = ToDeadline(timeout);
  PyMessage message;
  if (src == rank_) message.outgoing = ObjectSnapshot::Take(obj.ptr());
  absl::StatusOr<PyMessage> received =
      Unlocked([&] { return Open("broadcast_obj").broadcast_obj(message, src, deadline); });
  ThrowIfError(received.status());
  if (src == rank_) return py::reinterpret_borrow<py::object>(obj);
  ThrowIfError(BuildReceived(*received));
  return py::reinterpret_steal<py::object>(received->incoming.release());
}

py::list PyProcessGroup::all_gather_obj(py::handle obj, Timeout timeout) {
  const auto deadline = ToDeadline(timeout);
  const PyMessage message{ObjectSnapshot::Take(obj.ptr()), {}, {}};
  absl::StatusOr<std::vector<PyMessage>> gathered =
      Unlocked([&] { return Open("all_gather_obj").all_gather_obj(message, deadline); });
  ThrowIfError(gathered.status());
  for (int r = 0; r < world_size_; ++r) {
    if (r != rank_) ThrowIfError(BuildReceived((*gathered)[r]));
  }
  py::list result(world_size_);
  for (int r = 0; r < world_size_; ++r) {
    result[r] = r == rank_ ? py::reinterpret_borrow<py::object>(obj)
                           : py::reinterpret_steal<py::object>((*gathered)[r].incoming.release());
  }
  return result;
}

void PyProcessGroup::barrier(Timeout timeout) {
  const auto deadline = ToDeadline(timeout);
  ThrowIfError(Unlocked([&] { return Open("barrier").barrier(deadline); }));
}

void PyProcessGroup::expire_data() {
  ThrowIfError(Unlocked([&] { return Open("expire_data").expire_data(); }));
}

void PyProcessGroup::progress() {
  ThrowIfError(Unlocked([&] { return Open("progress").progress(); }));
}

void PyProcessGroup::close(Timeout timeout) {
  if (!group_.has_value()) return;  // closing twice is harmless
  const auto deadline = ToDeadline(timeout);
  LiveGroups().erase(this);
  absl::Status status = Unlocked([&] {
    absl::Status closed = group_->Close(deadline);
    group_.reset();
    return closed;
  });
  ThrowIfError(std::move(status));
}

void PyProcessGroup::send(py::handle tensor, int dst, Timeout timeout) {
  const auto deadline = ToDeadline(timeout);
  const at::Tensor value = TensorArgument(tensor, "send");
  ThrowIfError(Unlocked([&] { return Open("send").send(value, dst, deadline); }));
}

py::object PyProcessGroup::recv(py::handle tensor, int src, Timeout timeout) {
  const auto deadline = ToDeadline(timeout);
  at::Tensor target = TensorArgument(tensor, "recv");
  ThrowIfError(Unlocked([&] { return Open("recv").recv(target, src, deadline); }));
  return py::reinterpret_borrow<py::object>(tensor);
}

py::object PyProcessGroup::broadcast(py::handle tensor, int src, Timeout timeout) {
  const auto deadline = ToDeadline(timeout);
  at::Tensor target = TensorArgument(tensor, "broadcast");
  ThrowIfError(Unlocked([&] { return Open("broadcast").broadcast(target, src, deadline); }));
  return py::reinterpret_borrow<py::object>(tensor);
}

py::object PyProcessGroup::all_reduce(py::handle tensor, const std::string& op,
                                      Timeout timeout) {
  const auto deadline = ToDeadline(timeout);
  const ReduceOp reduce_op = ReduceOpNamed(op);
  at::Tensor target = TensorArgument(tensor, "all_reduce");
  ThrowIfError(Unlocked([&] { return Open("all_reduce").all_reduce(target, reduce_op, deadline); }));
  return py::reinterpret_borrow<py::object>(tensor);
}

py::dict PyProcessGroup::send_dst_counter() const {
  return CounterDict(Unlocked([&] { return Open("send_dst_counter").send_dst_counter(); }));
}

py::dict PyProcessGroup::recv_src_counter() const {
  return CounterDict(Unlocked([&] { return Open("recv_src_counter").recv_src_counter(); }));
}

uint64_t PyProcessGroup::broadcast_send_counter() const {
  return Unlocked([&] { return Open("broadcast_send_counter").broadcast_send_counter(); });
}

py::dict PyProcessGroup::broadcast_recv_src_counter() const {
  return CounterDict(Unlocked([&] { return Open("broadcast_recv_src_counter").broadcast_recv_src_counter(); }));
}

py::list PyProcessGroup::entries() const {
  py::list result;
  for (const auto& [key, time] : Unlocked([&] { return Open("entries").entries(); })) {
    result.append(py::make_tuple(key, absl::ToDoubleSeconds(time - absl::UnixEpoch())));
  }
  return result;
}

py::dict PyProcessGroup::stats() const {
  const dist::ChannelStats stats = Unlocked([&] { return Open("stats").stats(); });
  py::dict result;
  result["bytes_in_use"] = stats.bytes_in_use;
  result["peak_bytes_in_use"] = stats.peak_bytes_in_use;
  result["entries_in_use"] = stats.entries_in_use;
  result["objects_sent"] = stats.objects_sent;
  result["bytes_sent"] = stats.bytes_sent;
  result["objects_received"] = stats.objects_received;
  result["bytes_received"] = stats.bytes_received;
  result["objects_read_in_place"] = stats.objects_read_in_place;
  result["objects_sent_pushed"] = stats.objects_sent_pushed;
  result["objects_sent_to_self"] = stats.objects_sent_to_self;
  result["objects_sent_pulled_for_credit"] = stats.objects_sent_pulled_for_credit;
  result["objects_received_pushed"] = stats.objects_received_pushed;
  result["reclaimed_by_ack"] = stats.reclaimed_by_ack;
  result["reclaimed_bytes_by_ack"] = stats.reclaimed_bytes_by_ack;
  result["reclaimed_by_expiration"] = stats.reclaimed_by_expiration;
  result["reclaimed_bytes_by_expiration"] = stats.reclaimed_bytes_by_expiration;
  return result;
}

}  // namespace fastvideo::python
