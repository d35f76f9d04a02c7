// absl::Status errors as Python exceptions: one base class,
// fastvideo_dist.Error, and one class per kind of failure, each also a
// subclass of the built-in a Python programmer would catch:
//   DeadlineExceeded                      -> TimeoutError
//   InvalidArgument (a payload of another
//     type, which stays queued)           -> MessageTypeError (TypeError)
//   InvalidArgument (anything else)       -> InvalidArgumentError (ValueError)
//   Unavailable (a peer is gone), NotFound (expired), DataLoss,
//   FailedPrecondition, AlreadyExists, ResourceExhausted, and the rest
//                                         -> RuntimeError subclasses
// The message is the C++ one, which names the group, ranks and key.
#ifndef FASTVIDEO_DIST_TOOLS_PYTHON_STATUS_EXCEPTION_H_
#define FASTVIDEO_DIST_TOOLS_PYTHON_STATUS_EXCEPTION_H_

#include <pybind11/pybind11.h>

#include <exception>

#include "absl/status/status.h"

namespace fastvideo::python {

// Thrown by the bindings for a non-OK status; the translator that
// RegisterExceptions installs turns it into the matching Python exception.
class StatusError : public std::exception {
 public:
  explicit StatusError(absl::Status status) : status_(std::move(status)) {}
  const absl::Status& status() const { return status_; }
  const char* what() const noexcept override { return "absl::Status error"; }

 private:
  absl::Status status_;
};

// Throws StatusError unless `status` is OK.
inline void ThrowIfError(absl::Status status) {
  if (!status.ok()) throw StatusError(std::move(status));
}

// Sets the Python exception that matches `status` (which is not OK).
void SetPythonError(const absl::Status& status);

// Adds the exception classes to `module` and installs the translator.
void RegisterExceptions(pybind11::module_& module);

}  // namespace fastvideo::python

#endif  // FASTVIDEO_DIST_TOOLS_PYTHON_STATUS_EXCEPTION_H_
