#!/usr/bin/env bash
# Launches a program on N local ranks with mpirun, the way this project's
# tests, demo and benchmarks do.
#
#   usage: mpilaunch.sh [--np N] [--transport shm|tcp] [--nodes M]
#                       [--time-limit SECONDS] [--ompi-server FILE]
#                       [--program BINARY | BINARY] [ARGS...]
#
#   --np          ranks (default: $NP, else 4); more ranks than cores run
#                 oversubscribed.
#   --transport   shm: Open MPI's single-node default (btl vader; windows
#                 within one node go through osc/sm, see
#                 dist/internal/window_allocation.h);
#                 tcp: btl tcp over loopback with osc/pt2pt, which behaves
#                 like ranks on different nodes (default: $TRANSPORT, else shm).
#   --nodes       spread the ranks over M simulated nodes (tools/cluster.sh:
#                 network namespaces; needs root), N/M a node in rank order,
#                 unbound (each node's daemon would bind from core 0 up, and
#                 the nodes share this machine's cores). Within a node shm
#                 stays as it is; between nodes only TCP connects, and
#                 windows go through osc/pt2pt.
#   --time-limit  kill the job after this many seconds and report each
#                 rank's state (default: Bazel's TEST_TIMEOUT less 20 s under
#                 `bazel test`, else none).
#   --ompi-server FILE
#                 let this job connect to other jobs (StatelessProcessGroup::
#                 Create with host and port) through the ompi-server whose
#                 URI is in FILE (see ompi_server.sh; default:
#                 $FASTVIDEO_OMPI_SERVER). Adds btl tcp and osc/pt2pt, which
#                 connect jobs; within the job shm stays as it is.
#   --no-tag      do not tag each output line with its rank (the demo's
#                 table reads better untagged).
#   --program     the program, when options must follow it (as in
#                 `bazel run //tools:demo -- --np 2`, whose BUILD rule names it).
#   -h, --help    print this and exit.
#
# Every rank's output is tagged "[job,rank]<stdout>:" (unless --no-tag). The exit code is
# non-zero if any rank failed.
set -euo pipefail

np=${NP:-4}
transport=${TRANSPORT:-shm}
nodes=
all_args=("$@")
time_limit=
ompi_server=${FASTVIDEO_OMPI_SERVER:-}
program=()
tag=(--tag-output)
if [ -n "${TEST_TIMEOUT:-}" ]; then
  time_limit=$(( TEST_TIMEOUT > 40 ? TEST_TIMEOUT - 20 : 20 ))
fi
while [ $# -gt 0 ]; do
  case "$1" in
    --np) np=$2; shift 2 ;;
    --transport) transport=$2; shift 2 ;;
    --nodes) nodes=$2; shift 2 ;;
    --time-limit) time_limit=$2; shift 2 ;;
    --ompi-server) ompi_server=$2; shift 2 ;;
    --program) program=("$2"); shift 2 ;;
    --no-tag) tag=(); shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    --) shift; break ;;
    -*) echo "mpilaunch.sh: unknown option '$1' (--help lists them)" >&2; exit 2 ;;
    *) break ;;
  esac
done
set -- "${program[@]}" "$@"
[ $# -ge 1 ] || { echo "mpilaunch.sh: no program to run" >&2; exit 2; }

# Across simulated nodes: this script again, on node 0 of a new cluster.
if [ -n "$nodes" ] && [ -z "${FASTVIDEO_CLUSTER_HOSTFILE:-}" ]; then
  # Next to this script, or in the runfiles of the test it is the main of.
  # Installed, it is fastvideo-cluster next to fastvideo-mpilaunch.
  for cluster in "$(dirname "${BASH_SOURCE[0]}")/cluster.sh" \
      "$(dirname "${BASH_SOURCE[0]}")/fastvideo-cluster" \
      "${RUNFILES_DIR:-.}/fastvideo_dist/tools/cluster.sh" "$PWD/tools/cluster.sh"; do
    [ -f "$cluster" ] && break
  done
  [ -f "$cluster" ] || { echo "mpilaunch.sh: --nodes needs tools/cluster.sh, which is not here" >&2; exit 2; }
  exec "$cluster" run --nodes "$nodes" \
      --slots $(( (np + nodes - 1) / nodes )) -- "$0" "${all_args[@]}"
fi

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Open MPI's session directory holds unix sockets (at most 108 bytes of
# path), so it cannot live under Bazel's long TEST_TMPDIR.
session_dir=$(mktemp -d /tmp/ompi.XXXXXX)
trap 'rm -rf "$session_dir"' EXIT
# Under --config=asan: Open MPI's libraries have no frame pointers, so a
# leak's stack names its library only if every malloc is fully unwound, which
# makes multi-rank runs many times slower. Leak checking of MPI jobs is
# therefore opt-in (FASTVIDEO_LSAN=1, as //tests:mpi_leak_check does), with
# tools/lsan_suppressions.txt ignoring what Open MPI itself leaks.
if [ "${FASTVIDEO_LSAN:-0}" = 1 ]; then
  # Next to this script, or in the runfiles of the test it is the main of.
  for suppressions in "$(dirname "${BASH_SOURCE[0]}")/lsan_suppressions.txt" \
      "${RUNFILES_DIR:-.}/fastvideo_dist/tools/lsan_suppressions.txt" \
      "$PWD/tools/lsan_suppressions.txt"; do
    [ -f "$suppressions" ] && break
  done
  suppressions="$(cd "$(dirname "$suppressions")" && pwd)/lsan_suppressions.txt"
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1:fast_unwind_on_malloc=0"
  export LSAN_OPTIONS="suppressions=$suppressions${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
elif [ -n "${ASAN_OPTIONS:-}" ]; then
  export ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0"
fi
# Every rank would write (and remove) the same gtest files; Bazel makes its
# own XML report.
unset GTEST_OUTPUT XML_OUTPUT_FILE TEST_PREMATURE_EXIT_FILE

args=(-np "$np" --oversubscribe "${tag[@]}"
      --mca orte_tmpdir_base "$session_dir" --mca pml ob1)
if [ -n "$nodes" ]; then
  args+=(--hostfile "$FASTVIDEO_CLUSTER_HOSTFILE" --bind-to none
         --mca plm_rsh_agent "$FASTVIDEO_CLUSTER_AGENT" --mca plm_rsh_no_tree_spawn 1)
  # The simulated nodes share this machine's cores, which no node's mpirun
  # daemon sees: MPI's own waits must yield when the ranks outnumber them
  # (a raw MPI_Barrier across 2 nodes x 2 ranks on 2 cores: 8 ms, 36 us).
  [ "$np" -le "$(nproc)" ] || args+=(--mca mpi_yield_when_idle 1)
fi
case "$transport" in
  shm) if [ -n "$nodes" ] || [ -n "$ompi_server" ]; then
         # Shared memory within a node, TCP between nodes or jobs: windows
         # that span them need osc/pt2pt, which Debian's defaults exclude.
         args+=(--mca btl vader,tcp,self --mca osc sm,rdma,pt2pt)
       else
         args+=(--mca btl vader,self)
       fi ;;
  tcp) args+=(--mca btl tcp,self --mca osc pt2pt)
       # One machine's ranks talk over loopback; a cluster's over its bridge.
       [ -n "$nodes" ] || args+=(--mca btl_tcp_if_include lo --mca oob_tcp_if_include lo) ;;
  *) echo "mpilaunch.sh: unknown transport '$transport' (shm or tcp)" >&2
     exit 2 ;;
esac
if [ -n "$ompi_server" ]; then
  [ -s "$ompi_server" ] || {
    echo "mpilaunch.sh: no ompi-server URI in '$ompi_server' (start one: ompi_server.sh start --uri FILE)" >&2
    exit 2; }
  args+=(--ompi-server "file:$(cd "$(dirname "$ompi_server")" && pwd)/$(basename "$ompi_server")")
fi
if [ -n "$time_limit" ]; then
  args+=(--timeout "$time_limit" --report-state-on-timeout)
fi

echo "mpilaunch${FASTVIDEO_CLUSTER:+ (on $(hostname))}: $np ranks${nodes:+ on $nodes nodes}, transport $transport${ompi_server:+, ompi-server $ompi_server}${time_limit:+, time limit ${time_limit}s}: $*"
mpirun "${args[@]}" "$@"
