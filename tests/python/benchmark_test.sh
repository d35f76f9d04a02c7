#!/usr/bin/env bash
# The Python benchmark (tools/benchmark/python_benchmark.py) runs to its
# table: one round of the small-dict rows, the barrier and the transport's
# floor, each with a time for both sides and a ratio.
#   usage: benchmark_test.sh TRANSPORT NP
set -uo pipefail
transport=$1
np=$2
export PYTHONPATH="$PWD/tools/python${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
out=$(mktemp)
trap 'rm -f "$out"' EXIT

tools/mpilaunch.sh --np "$np" --transport "$transport" --time-limit 200 --no-tag \
    /usr/bin/python3 tools/benchmark/python_benchmark.py "$transport" \
    --payloads dict --rounds 1 >"$out" 2>&1
code=$?
cat "$out"
[ "$code" -eq 0 ] || { echo "FAIL: the benchmark exited $code"; exit 1; }

failed=0
grep -q "^# $np ranks, transport $transport" "$out" || { echo "FAIL: no heading"; failed=1; }
number='[0-9]+\.[0-9]+'
for row in "p2p dict" "broadcast dict" "all_gather dict" "barrier" "floor: MPI_Put vs MPI_Send"; do
  grep -Eq "^${row} +${number} +${number} +${number}x$" "$out" ||
    { echo "FAIL: no row '$row' with two times and a ratio"; failed=1; }
done
# Rows of payloads not asked for are not run.
if grep -q "16-layer-dict\|1MiB-bytes\|64MiB-tensor" "$out"; then
  echo "FAIL: rows of payloads not asked for"
  failed=1
fi
# An unknown payload is refused by name.
PYTHONPATH=$PYTHONPATH /usr/bin/python3 tools/benchmark/python_benchmark.py shm \
    --payloads dict,bogus >"$out" 2>&1
grep -q "unknown payloads \['bogus'\]" "$out" || { cat "$out"; echo "FAIL: bogus payload"; failed=1; }
[ "$failed" -eq 0 ] && echo "PASS"
exit "$failed"
