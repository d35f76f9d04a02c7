// A torch.Tensor argument of a binding, or TypeError naming the call and
// the type it got instead ("recv: tensor must be a torch.Tensor, not 'list'").
#ifndef FASTVIDEO_DIST_TOOLS_PYTHON_TENSOR_ARGUMENT_H_
#define FASTVIDEO_DIST_TOOLS_PYTHON_TENSOR_ARGUMENT_H_

#include <ATen/core/Tensor.h>
#include <pybind11/pybind11.h>

namespace fastvideo::python {

// Needs the GIL. The result shares the Python tensor's storage.
at::Tensor TensorArgument(pybind11::handle tensor, const char* call);

}  // namespace fastvideo::python

#endif  // FASTVIDEO_DIST_TOOLS_PYTHON_TENSOR_ARGUMENT_H_
