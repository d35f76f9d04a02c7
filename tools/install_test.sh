#!/usr/bin/env bash
# Installs into a temporary prefix; then, in a plain non-interactive bash
# with Lmod, loads the module, builds tests/install/consumer.cc outside Bazel
# with mpicxx + pkg-config and with CMake's find_package, runs both on 2
# ranks, checks what they print, and checks that unloading leaves no trace.
set -euo pipefail

prefix="$TEST_TMPDIR/prefix"
work="$TEST_TMPDIR/consumer"
# Built optimized whatever mode this test was built in (tools/optimized.bzl).
library=$(readlink -f tools/libfastvideo_dist.so)
case "$library" in
  */k8-opt*) echo "== the installed library comes from $library" ;;
  *) echo "the installed library was not built with -c opt: $library"; exit 1 ;;
esac
tools/install --prefix "$prefix"
mkdir -p "$work"
cp tests/install/consumer.cc tests/install/CMakeLists.txt "$work/"

env -i HOME="$TEST_TMPDIR" PATH=/usr/bin:/bin TMPDIR=/tmp PREFIX="$prefix" WORK="$work" \
  bash --noprofile --norc -c '
set -euo pipefail
source /usr/share/lmod/lmod/init/bash
snapshot() {
  for v in PATH LD_LIBRARY_PATH CPATH PKG_CONFIG_PATH CMAKE_PREFIX_PATH \
           PYTHONPATH FASTVIDEO_DIST_ROOT MODULEPATH; do
    echo "$v=${!v-<unset>}"
  done
}
before=$(snapshot)

module use "$PREFIX/modulefiles"
module load fastvideo_dist
[ "$FASTVIDEO_DIST_ROOT" = "$PREFIX" ] || { echo "FASTVIDEO_DIST_ROOT=$FASTVIDEO_DIST_ROOT"; exit 1; }
for tool in fastvideo-demo fastvideo-benchmark fastvideo-example fastvideo-mpilaunch \
    fastvideo-ompi-server fastvideo-cluster fastvideo-weight-sync fastvideo-weight-sync-example; do
  command -v "$tool" >/dev/null || { echo "$tool is not in PATH"; exit 1; }
done
for help in --help -h; do
  fastvideo-mpilaunch "$help" | grep -q "usage: mpilaunch.sh" ||
    { echo "fastvideo-mpilaunch $help does not print its usage"; exit 1; }
  fastvideo-ompi-server "$help" | grep -q "usage: ompi_server.sh" ||
    { echo "fastvideo-ompi-server $help does not print its usage"; exit 1; }
done

cd "$WORK"
echo "== two jobs through the installed ompi-server helper"
fastvideo-weight-sync-example --server-ranks 2 | tee sync.log
[ "$(grep -c "id of 128 bytes (intact); 3 parameters" sync.log)" -eq 3 ]
echo "== mpicxx with pkg-config: $(pkg-config --cflags --libs fastvideo_dist)"
mpicxx consumer.cc -o consumer_pkgconfig $(pkg-config --cflags --libs fastvideo_dist)
echo "== CMake find_package"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > cmake.log 2>&1 || { cat cmake.log; exit 1; }
cmake --build build > build.log 2>&1 || { cat build.log; exit 1; }

for program in ./consumer_pkgconfig build/consumer; do
  output=$(fastvideo-mpilaunch --np 2 --no-tag "$program")
  echo "$output"
  grep -q "consumer rank 0 of 2: sum of ranks 1, 12/2=6" <<<"$output"
  grep -q "consumer rank 1 of 2: sum of ranks 1, 12/2=6" <<<"$output"
done

if why_not=$(fastvideo-cluster check 2>&1); then
  echo "== the installed launcher across 2 simulated nodes"
  output=$(fastvideo-mpilaunch --nodes 2 --np 2 --no-tag ./consumer_pkgconfig)
  echo "$output"
  grep -q "consumer rank 1 of 2: sum of ranks 1, 12/2=6" <<<"$output"
  grep -q "2 ranks on 2 nodes" <<<"$output"
else
  echo "== not across simulated nodes: ${why_not#cluster.sh: }"
fi

echo "== the Python module, from the install, on 2 ranks"
cat > pycheck.py <<PY
import fastvideo_dist
assert fastvideo_dist.__file__.startswith("$PREFIX/"), fastvideo_dist.__file__
group = fastvideo_dist.StatelessProcessGroup.from_comm(timeout=60)
got = group.all_gather_obj({"rank": group.rank})
print(f"python rank {group.rank} of {group.world_size}: {got}")
PY
output=$(fastvideo-mpilaunch --np 2 --no-tag /usr/bin/python3 pycheck.py)
echo "$output"
grep -q "python rank 1 of 2: \[{.rank.: 0}, {.rank.: 1}\]" <<<"$output"

module unload fastvideo_dist
module unuse "$PREFIX/modulefiles"
after=$(snapshot)
if [ "$before" != "$after" ]; then
  echo "module unload left a trace:"
  diff <(echo "$before") <(echo "$after") || true
  exit 1
fi
echo "== module unload left no trace"
'
