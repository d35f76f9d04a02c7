// The per-message methods of fastvideo_dist.StatelessProcessGroup
// (send_obj, recv_obj, broadcast_obj, all_gather_obj, barrier) as
// METH_FASTCALL methods instead of pybind11 ones. pybind11 2.10 builds an
// argument tuple, copies the keyword dict and looks the class up by name
// for every call: 0.17 us more per call with keywords (dst=...) than without,
// as much as the channel's own work for a small message on shared memory.
// These read the arguments in place and call PyProcessGroup directly.
#ifndef FASTVIDEO_DIST_TOOLS_PYTHON_FAST_METHODS_H_
#define FASTVIDEO_DIST_TOOLS_PYTHON_FAST_METHODS_H_

#include <pybind11/pybind11.h>

namespace fastvideo::python {

// Adds the methods to `group_class`, the pybind11 class of PyProcessGroup.
void InstallFastMethods(pybind11::handle group_class);

}  // namespace fastvideo::python

#endif  // FASTVIDEO_DIST_TOOLS_PYTHON_FAST_METHODS_H_
