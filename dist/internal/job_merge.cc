#include "dist/internal/job_merge.h"

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "dist/internal/mca_setting.h"
#include "dist/internal/mpi_error.h"

namespace fastvideo::dist {
namespace {

constexpr const char kHowToConnect[] =
    "start one ompi-server (fastvideo-ompi-server start --uri FILE) and launch every job with "
    "fastvideo-mpilaunch --ompi-server FILE (or mpirun --ompi-server file:FILE --mca osc "
    "sm,rdma,pt2pt)";

}  // namespace

absl::Status CanConnectJobs() {
  std::optional<std::string> server = ProcessMcaSettings().pmix_server_uri;
  if (!server || server->empty()) {
    const char* from_env = std::getenv("OMPI_MCA_pmix_server_uri");
    server = from_env ? std::optional<std::string>(from_env) : std::nullopt;
  }
  if (!server || server->empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("this process's MPI job was not started with an ompi-server, which Open MPI "
                     "needs to connect separately launched jobs; ",
                     kHowToConnect));
  }
  const std::optional<std::string>& osc = ProcessMcaSettings().osc;
  if (osc && (!McaListAdmits(*osc, "pt2pt") || McaListAdmits(*osc, "ucx"))) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this process's MCA setting osc='", *osc, "' ",
        McaListAdmits(*osc, "pt2pt") ? "admits osc/ucx, which lost one-sided updates between jobs"
                              : "excludes osc/pt2pt, the one-sided component that works "
                                "between jobs",
        "; fastvideo::MpiRuntime sets osc=sm,rdma,pt2pt when OMPI_MCA_osc is unset, else ",
        kHowToConnect));
  }
  return absl::OkStatus();
}

absl::Status BcastStatus(MPI_Comm comm, int root, const absl::Status& status) {
  int header[2] = {static_cast<int>(status.code()), static_cast<int>(status.message().size())};
  FV_RETURN_IF_MPI_ERROR(MPI_Bcast(header, 2, MPI_INT, root, comm));
  if (header[0] == 0) return absl::OkStatus();
  std::string message(status.message());
  message.resize(header[1]);
  FV_RETURN_IF_MPI_ERROR(MPI_Bcast(message.data(), header[1], MPI_CHAR, root, comm));
  return absl::Status(static_cast<absl::StatusCode>(header[0]), message);
}

namespace {

absl::StatusOr<MPI_Comm> Merge(MPI_Comm intercomm, bool high, const char* call, int code) {
  if (code != MPI_SUCCESS) {
    return absl::FailedPreconditionError(
        absl::StrCat(call, " failed (", MpiStatus(code, call).message(), "); ", kHowToConnect));
  }
  MPI_Comm merged;
  code = MPI_Intercomm_merge(intercomm, high ? 1 : 0, &merged);
  MPI_Comm_disconnect(&intercomm);
  FV_RETURN_IF_MPI_ERROR(code);
  MPI_Comm_set_errhandler(merged, MPI_ERRORS_RETURN);
  return merged;
}

}  // namespace

absl::StatusOr<MPI_Comm> AcceptJob(MPI_Comm group, const std::string& port_name) {
  MPI_Comm intercomm;
  const int code =
      MPI_Comm_accept(port_name.c_str(), MPI_INFO_NULL, 0, group, &intercomm);
  return Merge(intercomm, /*high=*/false, "MPI_Comm_accept", code);
}

absl::StatusOr<MPI_Comm> ConnectJob(MPI_Comm job, const std::string& port_name) {
  MPI_Comm intercomm;
  const int code =
      MPI_Comm_connect(port_name.c_str(), MPI_INFO_NULL, 0, job, &intercomm);
  return Merge(intercomm, /*high=*/true, "MPI_Comm_connect", code);
}

}  // namespace fastvideo::dist
