// Open MPI's MCA settings of this process (mpirun --mca, OMPI_MCA_*),
// read through the MPI tool interface, and what they admit.
#ifndef FASTVIDEO_DIST_INTERNAL_MCA_SETTING_H_
#define FASTVIDEO_DIST_INTERNAL_MCA_SETTING_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace fastvideo::dist {

// The settings the module decides by; nullopt where MPI has none.
struct McaSettings {
  std::optional<std::string> btl;
  std::optional<std::string> osc;
  std::optional<std::string> pmix_server_uri;
};

// Read once per process, at the first call (after MPI_Init): they do not
// change while a process runs, and Open MPI 4.1 opens every one of its
// components at each MPI_T_init_thread (about 0.4 s here, which every
// group's creation used to pay). Thread-safe.
const McaSettings& ProcessMcaSettings();

// Whether a component list ("a,b", "^a,b", or empty: all) admits `name`.
bool McaListAdmits(absl::string_view list, absl::string_view name);

// Whether the component lists `btl` and `osc` (empty: all) let one-sided
// operations between ranks of one node go through shared memory (btl
// vader/sm and osc sm/rdma admitted) rather than messages (mpirun --mca btl
// tcp,self: osc/pt2pt).
bool McaAdmitsSharedMemoryWindows(absl::string_view btl, absl::string_view osc);

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_MCA_SETTING_H_
