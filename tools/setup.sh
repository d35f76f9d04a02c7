#!/usr/bin/env bash
# Installs the Debian packages this project needs, and only those. Safe to run
# again: it installs what is missing and says what it did. Runs as root, or
# through sudo.
set -euo pipefail

packages=(
  bazel-bootstrap            # Bazel 4.2, WORKSPACE mode
  g++                        # the C++ toolchain Bazel configures
  libopenmpi-dev openmpi-bin # Open MPI 4.1: headers, libmpi, mpirun
  libtorch-dev               # libtorch 1.13 (brings glog)
  libgoogle-glog-dev         # glog headers
  libabsl-dev                # Abseil 20220623
  libgtest-dev libgmock-dev  # GoogleTest / GoogleMock 1.12
  pkg-config cmake           # the install test builds outside Bazel
  lmod                       # environment modules (module load)
  slurmctld slurmd slurm-client munge libpmix-dev  # the Slurm test's cluster
  gnuplot-nox                # the benchmark report's plot
  clang libclang-rt-14-dev   # libFuzzer for tests/fuzz/run_fuzzers.sh
  # The Python module (tools/python) for Debian's /usr/bin/python3: headers,
  # pybind11, the torch whose libtorch we link, and its tests and benchmark.
  python3-dev pybind11-dev python3-torch python3-pytest python3-mpi4py
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed: ${packages[*]}"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: run as root or install sudo" >&2; exit 1; }
  sudo=(sudo)
fi

echo "setup: installing ${missing[*]}"
# Package scripts must not start daemons (munge, slurmd) on this machine:
# the tests start their own. policy-rc.d answering 101 forbids it.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod +x "$policy"
  trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi
"${sudo[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q "${missing[@]}"
echo "setup: installed ${#missing[@]} package(s): ${missing[*]}"
