#include "tools/python/tensor_argument.h"

#include <torch/csrc/autograd/python_variable.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace fastvideo::python {

at::Tensor TensorArgument(pybind11::handle tensor, const char* call) {
  if (!THPVariable_Check(tensor.ptr())) {
    const std::string type = pybind11::str(tensor.get_type().attr("__name__"));
    throw pybind11::type_error(
        absl::StrCat(call, ": tensor must be a torch.Tensor, not '", type, "'"));
  }
  return THPVariable_Unpack(tensor.ptr());
}

}  // namespace fastvideo::python
