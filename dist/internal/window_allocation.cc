#include "dist/internal/window_allocation.h"

#include "absl/strings/str_cat.h"
#include "dist/internal/mca_setting.h"
#include "dist/internal/mpi_error.h"

namespace fastvideo::dist {
namespace {

// The window's info: readers use MPI_REPLACE on ack and credit words,
// writers on notices, barrier partners MPI_SUM on round words, MPI_REPLACE
// on arrival words and collective notes, owners MPI_NO_OP: one op per word. Shared windows
// start each member's segment on a page of its own.
class WindowInfo {
 public:
  explicit WindowInfo(bool shared) {
    MPI_Info_create(&info_);
    MPI_Info_set(info_, "accumulate_ops", "same_op_no_op");
    if (shared) MPI_Info_set(info_, "alloc_shared_noncontig", "true");
  }
  WindowInfo(const WindowInfo&) = delete;
  WindowInfo& operator=(const WindowInfo&) = delete;
  ~WindowInfo() { MPI_Info_free(&info_); }
  MPI_Info get() const { return info_; }

 private:
  MPI_Info info_;
};

absl::Status NoComponentAcrossNodes(int code, const std::string& osc) {
  return absl::FailedPreconditionError(absl::StrCat(
      "MPI_Win_allocate found no one-sided component for members on several nodes or in "
      "several jobs (",
      MpiStatus(code, "MPI_Win_allocate").message(),
      "): across hosts without RDMA hardware only osc/pt2pt opens windows, and the MCA setting "
      "osc='", osc,
      "' excludes it (Debian's /etc/openmpi/openmpi-mca-params.conf does); set "
      "OMPI_MCA_osc=sm,rdma,pt2pt before MPI_Init (fastvideo::MpiRuntime and the Python module "
      "do when it is unset), or pass --mca osc sm,rdma,pt2pt to mpirun"));
}

}  // namespace

absl::StatusOr<AllocatedWindow> AllocateWindow(MPI_Comm comm, MPI_Aint bytes,
                                               bool all_members_here) {
  const McaSettings& mca = ProcessMcaSettings();
  const std::string osc = mca.osc.value_or("");
  AllocatedWindow allocated;
  const bool shared = all_members_here && McaListAdmits(osc, "sm");
  const WindowInfo info(shared);
  const int code = shared ? MPI_Win_allocate_shared(bytes, 1, info.get(), comm,
                                                    &allocated.base, &allocated.window)
                          : MPI_Win_allocate(bytes, 1, info.get(), comm, &allocated.base,
                                             &allocated.window);
  if (code != MPI_SUCCESS) {
    if (!all_members_here && !McaListAdmits(osc, "pt2pt")) return NoComponentAcrossNodes(code, osc);
    return MpiStatus(code, shared ? "MPI_Win_allocate_shared" : "MPI_Win_allocate");
  }
  allocated.shared_memory =
      shared || (all_members_here && McaAdmitsSharedMemoryWindows(mca.btl.value_or(""), osc));
  return allocated;
}

}  // namespace fastvideo::dist
