// Open MPI's MCA settings of this process (mpirun --mca, OMPI_MCA_*),
// read through the MPI tool interface, and what they admit.
#ifndef FASTVIDEO_DIST_INTERNAL_MCA_SETTING_H_
#define FASTVIDEO_DIST_INTERNAL_MCA_SETTING_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace fastvideo::dist {

// An MCA variable's value ("btl", "osc", ...), or nullopt if MPI has none.
std::optional<std::string> ReadMcaString(const char* name);

// Whether a component list ("a,b", "^a,b", or empty: all) admits `name`.
bool McaListAdmits(absl::string_view list, absl::string_view name);

// Whether the component lists `btl` and `osc` (as ReadMcaString gives them;
// empty: all) let one-sided operations between ranks of one node go
// through shared memory (btl vader/sm and osc sm/rdma admitted) rather
// than messages (mpirun --mca btl tcp,self: osc/pt2pt).
bool McaAdmitsSharedMemoryWindows(absl::string_view btl, absl::string_view osc);

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_MCA_SETTING_H_
