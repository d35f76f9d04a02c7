#!/usr/bin/env bash
# A rank killed mid-exchange (SIGKILL): the job must end within a bounded
# time, with a non-zero exit and a message naming the rank, and leave no
# process behind.   usage: killed_rank_test.sh TRANSPORT [NODES]
# The victim is the last rank. With NODES, 2 ranks on each of that many
# simulated nodes (tools/cluster.sh): the victim runs on another node than
# mpirun.
set -uo pipefail
transport=$1
np=4 placement=()
[ -z "${2:-}" ] || { np=$((2 * $2)); placement=(--nodes "$2"); }
victim=$((np - 1))
# A name of this run's own, so that the check for processes left behind
# does not see another run's (the shm and tcp tests may run side by side).
binary="${TEST_TMPDIR:-/tmp}/killed_rank_bin_${transport}_$$"
ln -sf "$PWD/tests/killed_rank_bin" "$binary"

start=$(date +%s)
output=$(tools/mpilaunch.sh --np "$np" --transport "$transport" "${placement[@]}" --time-limit 100 "$binary" 2>&1)
status=$?
elapsed=$(( $(date +%s) - start ))
echo "$output"
echo "== exit $status after ${elapsed}s"

failed=0
[ "$status" -ne 0 ] || { echo "FAIL: the job exited 0"; failed=1; }
grep -qE "rank $victim with PID [0-9]+ .*signal 9" <<<"$output" ||
  { echo "FAIL: no message names rank $victim and its signal"; failed=1; }
[ "$elapsed" -lt 60 ] || { echo "FAIL: took ${elapsed}s to end"; failed=1; }
sleep 1
if pgrep -f "$binary" >/dev/null; then
  echo "FAIL: processes left behind:"; pgrep -af "$binary"; failed=1
fi
exit "$failed"
