# What the cross-job tests share: a private ompi-server, a free port, jobs of
# tests/cross_job_bin launched with tools/mpilaunch.sh, and their checks.
# Expects $transport; sourced from the workspace root (Bazel's runfiles).
# Transport "nodes" (or "nodesN"): the test runs again on node 0 of a
# simulated cluster of two (N) nodes (tools/cluster.sh); job A (and the
# ompi-server, and group rank 0's listener, on node 0's address) stays
# there, the other jobs run on the last node; $spread (--nodes N) spreads
# one job over the cluster. Shared memory within each node.
host=127.0.0.1
on_node=() spread=()
if [[ "$transport" == nodes* ]]; then
  cluster_nodes=${transport#nodes}
  [ -n "${FASTVIDEO_CLUSTER:-}" ] ||
    exec tools/cluster.sh run --nodes "${cluster_nodes:-2}" -- "$0" "$@"
  host=${FASTVIDEO_CLUSTER_ADDRESSES%% *}
  on_node=(tools/cluster.sh exec "${FASTVIDEO_CLUSTER_NODES##* }")
  spread=(--nodes "${cluster_nodes:-2}")
  transport=shm
fi
tmp=$(mktemp -d /tmp/fvxjob.XXXXXX)  # short: Open MPI's session paths
uri="$tmp/ompi-server.uri"
failed=0
tools/ompi_server.sh start --uri "$uri" || exit 1
trap 'tools/ompi_server.sh stop --uri "$uri"; rm -rf "$tmp"' EXIT

# A port nobody listens on now (bash only: no Python on a bare machine).
# Another program may still take it first; Create then says AlreadyExists.
free_port() {
  local port
  while true; do
    port=$(( 20000 + RANDOM % 30000 ))
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null || { echo "$port"; return; }
  done
}

fail() { echo "FAIL: $*"; failed=1; }

# launch NAME NP ARGS...: one job of cross_job_bin, its output in
# $tmp/NAME.log; without_server=1 leaves out the ompi-server. Across nodes,
# every job but A runs on the other node.
launch() {
  local name=$1 np=$2 server=(--ompi-server "$uri") where=()
  shift 2
  [ "${without_server:-0}" = 1 ] && server=()
  [ "$name" = A ] || where=("${on_node[@]}")
  "${where[@]}" tools/mpilaunch.sh --np "$np" --transport "$transport" "${server[@]}" \
      --time-limit 240 tests/cross_job_bin --host "$host" "$@" >"$tmp/$name.log" 2>&1
}

# singleton NAME ARGS...: cross_job_bin started without mpirun.
singleton() {
  local name=$1
  shift
  # As mpilaunch.sh does: leak checking of MPI processes is opt-in.
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" OMPI_MCA_orte_tmpdir_base="$tmp" \
      timeout 240 tests/cross_job_bin "$@" >"$tmp/$name.log" 2>&1
}

# expect_exit CODE PID NAME: waits for the job and checks how it ended.
expect_exit() {
  local want=$1 pid=$2 name=$3 got
  wait "$pid"
  got=$?
  echo "== job $name exited $got"
  sed "s/^/  $name| /" "$tmp/$name.log"
  if [ "$want" = nonzero ]; then
    [ "$got" -ne 0 ] || fail "job $name exited 0"
  else
    [ "$got" -eq "$want" ] || fail "job $name exited $got, expected $want"
  fi
}

finish() {
  [ "$failed" -eq 0 ] && echo "PASS" || echo "FAILED"
  exit "$failed"
}
