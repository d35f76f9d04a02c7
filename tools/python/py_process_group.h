// PyProcessGroup: the C++ side of fastvideo_dist.StatelessProcessGroup.
// It turns Python arguments into the C++ group's (objects through
// ObjectSnapshot, timeouts in seconds into deadlines) and back, waits
// without the GIL (other Python threads run), and takes CallLock() so that
// calls from several threads take turns. Errors are thrown as StatusError
// (see status_exception.h) or pybind11's TypeError/ValueError.
#ifndef FASTVIDEO_DIST_TOOLS_PYTHON_PY_PROCESS_GROUP_H_
#define FASTVIDEO_DIST_TOOLS_PYTHON_PY_PROCESS_GROUP_H_

#include <pybind11/pybind11.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dist/stateless_process_group.h"

namespace fastvideo::python {

class PyProcessGroup {
 public:
  using Timeout = std::optional<double>;  // seconds; None: the group's default

  // StatelessProcessGroup.from_comm: collective over `comm` (or its `ranks`).
  static std::shared_ptr<PyProcessGroup> FromComm(pybind11::handle comm,
                                                  std::optional<std::vector<int>> ranks,
                                                  GroupOptions options, Timeout timeout);
  // StatelessProcessGroup.create(host, port, rank, world_size, ...).
  static std::shared_ptr<PyProcessGroup> Create(const std::string& host, int port, int rank,
                                                int world_size, GroupOptions options,
                                                Timeout timeout);
  // Closes the groups still open (at interpreter exit), each within `timeout`.
  static void CloseAll(double timeout);

  explicit PyProcessGroup(StatelessProcessGroup group);
  PyProcessGroup(const PyProcessGroup&) = delete;
  PyProcessGroup& operator=(const PyProcessGroup&) = delete;
  ~PyProcessGroup();

  void send_obj(pybind11::handle obj, int dst, Timeout timeout);
  pybind11::object recv_obj(int src, Timeout timeout);
  pybind11::object broadcast_obj(pybind11::handle obj, int src, Timeout timeout);
  pybind11::list all_gather_obj(pybind11::handle obj, Timeout timeout);
  void barrier(Timeout timeout);
  void expire_data();
  void progress();
  void close(Timeout timeout);
  bool closed() const { return !group_.has_value(); }

  // Tensors: send copies out; recv, broadcast and all_reduce fill `tensor`
  // in place and return it.
  void send(pybind11::handle tensor, int dst, Timeout timeout);
  pybind11::object recv(pybind11::handle tensor, int src, Timeout timeout);
  pybind11::object broadcast(pybind11::handle tensor, int src, Timeout timeout);
  pybind11::object all_reduce(pybind11::handle tensor, const std::string& op,
                              Timeout timeout);

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  const std::string& name() const { return name_; }
  int64_t data_expiration_seconds() const { return data_expiration_seconds_; }
  pybind11::dict send_dst_counter() const;
  pybind11::dict recv_src_counter() const;
  uint64_t broadcast_send_counter() const;
  pybind11::dict broadcast_recv_src_counter() const;
  pybind11::list entries() const;
  pybind11::dict stats() const;

 private:
  // The open group, or FailedPrecondition naming the call.
  StatelessProcessGroup& Open(const char* call) const;

  mutable std::optional<StatelessProcessGroup> group_;
  int rank_;
  int world_size_;
  std::string name_;
  int64_t data_expiration_seconds_;
};

}  // namespace fastvideo::python

#endif  // FASTVIDEO_DIST_TOOLS_PYTHON_PY_PROCESS_GROUP_H_
