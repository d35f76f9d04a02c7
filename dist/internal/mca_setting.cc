#include "dist/internal/mca_setting.h"

#include <mpi.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_split.h"

namespace fastvideo::dist {

namespace {

// A string control variable, within an MPI_T session.
std::optional<std::string> ReadString(const char* name) {
  int index = 0, count = 0;
  MPI_T_cvar_handle handle;
  if (MPI_T_cvar_get_index(name, &index) != MPI_SUCCESS ||
      MPI_T_cvar_handle_alloc(index, nullptr, &handle, &count) != MPI_SUCCESS) {
    return std::nullopt;
  }
  std::optional<std::string> value;
  std::vector<char> buffer(std::max(count, 1) + 4096, '\0');
  if (MPI_T_cvar_read(handle, buffer.data()) == MPI_SUCCESS) value = buffer.data();
  MPI_T_cvar_handle_free(&handle);
  return value;
}

McaSettings ReadMcaSettings() {
  McaSettings settings;
  int provided = 0;
  if (MPI_T_init_thread(MPI_THREAD_SINGLE, &provided) != MPI_SUCCESS) return settings;
  settings.btl = ReadString("btl");
  settings.osc = ReadString("osc");
  settings.pmix_server_uri = ReadString("pmix_server_uri");
  MPI_T_finalize();
  return settings;
}

}  // namespace

const McaSettings& ProcessMcaSettings() {
  static const McaSettings* const settings = new McaSettings(ReadMcaSettings());
  return *settings;
}

bool McaListAdmits(absl::string_view list, absl::string_view name) {
  if (list.empty()) return true;
  const bool exclude = list[0] == '^';
  if (exclude) list.remove_prefix(1);
  bool listed = false;
  for (absl::string_view item : absl::StrSplit(list, ',')) listed |= item == name;
  return exclude != listed;
}

namespace {

// Either of two names of one kind of component: an include list needs one
// of them, an exclude list must spare both.
bool AdmitsEither(absl::string_view list, absl::string_view a, absl::string_view b) {
  const bool excluding = !list.empty() && list[0] == '^';
  return excluding ? McaListAdmits(list, a) && McaListAdmits(list, b)
                   : McaListAdmits(list, a) || McaListAdmits(list, b);
}

}  // namespace

bool McaAdmitsSharedMemoryWindows(absl::string_view btl, absl::string_view osc) {
  // Open MPI 4 calls its shared-memory btl vader (5 renames it sm).
  return AdmitsEither(btl, "vader", "sm") && AdmitsEither(osc, "sm", "rdma");
}

}  // namespace fastvideo::dist
