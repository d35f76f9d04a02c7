#!/usr/bin/env bash
# Installs fastvideo_dist under a prefix, as an HPC environment module:
#
#   bazel run //tools:install -- --prefix DIR
#
#   DIR/lib/libfastvideo_dist.so                  the library
#   DIR/include/fastvideo_dist/{dist,tensor}/*.h   its public headers
#   DIR/bin/fastvideo-{demo,benchmark,example,mpilaunch,ompi-server,cluster}
#   DIR/bin/fastvideo-weight-sync{,-example}         the cross-job example
#   DIR/lib/python/fastvideo_dist/                 `import fastvideo_dist` for
#                                                  Debian's /usr/bin/python3
# Everything is built optimized (-c opt) whatever mode Bazel runs in.
#   DIR/lib/pkgconfig/fastvideo_dist.pc
#   DIR/lib/cmake/fastvideo_dist/fastvideo_distConfig.cmake
#   DIR/modulefiles/fastvideo_dist/VERSION        (Tcl: Lmod and Environment Modules)
#   DIR/share/fastvideo_dist/slurm/               the sbatch scripts
#
# Then: module use DIR/modulefiles && module load fastvideo_dist
set -euo pipefail

version=0.1.0
prefix=
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    *) echo "install.sh: unknown argument '$1' (usage: --prefix DIR)" >&2; exit 2 ;;
  esac
done
[ -n "$prefix" ] || { echo "install.sh: --prefix DIR is required" >&2; exit 2; }
# Under `bazel run`, a relative prefix means relative to where the user is.
case "$prefix" in
  /*) ;;
  *) prefix="${BUILD_WORKING_DIRECTORY:-$PWD}/$prefix" ;;
esac

# Inputs are runfiles: found relative to this script's runfiles tree.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
runfiles=${RUNFILES_DIR:-}
if [ -z "$runfiles" ]; then
  if [ -d "$here/install.runfiles" ]; then runfiles="$here/install.runfiles"
  elif [ -d "${BASH_SOURCE[0]}.runfiles" ]; then runfiles="${BASH_SOURCE[0]}.runfiles"
  else runfiles="$here/../.."; fi
fi
src="$runfiles/fastvideo_dist"
[ -f "$src/tools/libfastvideo_dist.so" ] || src="$here/.."

# The libraries a program that uses the headers links against.
libs="-labsl_statusor -labsl_status -labsl_cord -labsl_strings -labsl_str_format_internal"
libs="$libs -labsl_time -labsl_time_zone -labsl_synchronization -lglog -ltorch -ltorch_cpu -lc10"
cmake_libs=$(echo "$libs" | sed 's/-l//g; s/ /;/g')

mkdir -p "$prefix"/{bin,lib/pkgconfig,lib/cmake/fastvideo_dist,include/fastvideo_dist/dist}
mkdir -p "$prefix"/{include/fastvideo_dist/tensor,modulefiles/fastvideo_dist,share/fastvideo_dist/slurm}
install -m 755 "$src/tools/libfastvideo_dist.so" "$prefix/lib/"
# The API headers and what they include of ours, nothing else: the
# channel's parts (window_channel.h, dist/internal/...) are not API.
api_headers=(dist/stateless_process_group.h dist/torch_codec.h dist/mpi_runtime.h)
headers=() queue=("${api_headers[@]}")
while [ ${#queue[@]} -gt 0 ]; do
  header=${queue[0]}; queue=("${queue[@]:1}")
  case " ${headers[*]} " in *" $header "*) continue ;; esac
  headers+=("$header")
  while read -r included; do queue+=("$included"); done \
    < <(sed -n 's|^#include "\(dist/[^"]*\)"|\1|p' "$src/$header")
done
for header in "${headers[@]}"; do
  case "$header" in
    dist/internal/*) echo "install.sh: API header includes internal $header" >&2; exit 1 ;;
  esac
  install -m 644 "$src/$header" "$prefix/include/fastvideo_dist/dist/"
done
install -m 644 "$src"/tensor/*.h "$prefix/include/fastvideo_dist/tensor/"
install -m 755 "$src/tools/demo_bin" "$prefix/bin/fastvideo-demo"
install -m 755 "$src/tools/channel_benchmark" "$prefix/bin/fastvideo-benchmark"
install -m 755 "$src/tools/example_bin" "$prefix/bin/fastvideo-example"
install -m 755 "$src/tools/mpilaunch.sh" "$prefix/bin/fastvideo-mpilaunch"
install -m 755 "$src/tools/ompi_server.sh" "$prefix/bin/fastvideo-ompi-server"
install -m 755 "$src/tools/cluster.sh" "$prefix/bin/fastvideo-cluster"
install -m 755 "$src/tools/weight_sync_example_bin" "$prefix/bin/fastvideo-weight-sync"
install -m 755 "$src/tools/weight_sync_example.sh" "$prefix/bin/fastvideo-weight-sync-example"
install -m 644 "$src"/tools/slurm/*.sbatch "$prefix/share/fastvideo_dist/slurm/"
# The Python package: its __init__ and the extension (self-contained: it
# does not load libfastvideo_dist.so).
mkdir -p "$prefix/lib/python/fastvideo_dist"
install -m 644 "$src/tools/python/fastvideo_dist/__init__.py" "$prefix/lib/python/fastvideo_dist/"
install -m 755 "$src"/tools/python/fastvideo_dist/_core.*.so "$prefix/lib/python/fastvideo_dist/"

fill() {  # fill TEMPLATE OUTPUT
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" \
      -e "s|@LIBS@|$libs|g" -e "s|@CMAKE_LIBS@|$cmake_libs|g" "$1" > "$2"
}
fill "$src/tools/templates/fastvideo_dist.pc.in" "$prefix/lib/pkgconfig/fastvideo_dist.pc"
fill "$src/tools/templates/fastvideo_distConfig.cmake.in" \
     "$prefix/lib/cmake/fastvideo_dist/fastvideo_distConfig.cmake"
fill "$src/tools/templates/modulefile.tcl.in" "$prefix/modulefiles/fastvideo_dist/$version"

echo "installed fastvideo_dist $version in $prefix"
echo "  module use $prefix/modulefiles && module load fastvideo_dist"
