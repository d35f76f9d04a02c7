#!/usr/bin/env bash
# The drop-in test: tests/python/original_api_user.py, written against the
# original's API (only its import changed), runs as one job of NP ranks, and
# as two separately launched jobs (a 1-rank trainer, an (NP-1)-rank server)
# forming one group through an ompi-server.
#   usage: dropin_test.sh TRANSPORT NP
set -uo pipefail
transport=$1
np=$2
source tests/cross_job_lib.sh
export PYTHONPATH="$PWD/tools/python${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1

# run NAME NP ARGS...: original_api_user.py on NP ranks, output in
# $tmp/NAME.log. Across simulated nodes (TRANSPORT nodesN), one_job spreads
# over them, the trainer runs on node 0 and the server on the last node.
run() {
  local name=$1 ranks=$2 where=() placement=()
  shift 2
  [ "$name" != server ] || where=("${on_node[@]}")
  [ "$name" != one_job ] || placement=("${spread[@]}")
  "${where[@]}" tools/mpilaunch.sh --np "$ranks" --transport "$transport" "${placement[@]}" \
      --ompi-server "$uri" --time-limit 200 \
      /usr/bin/python3 tests/python/original_api_user.py "$@" >"$tmp/$name.log" 2>&1
}

# expect_ok NAME COUNT: the job's log has COUNT ranks that finished.
expect_ok() {
  local got
  got=$(grep -c "10 steps; ok" "$tmp/$1.log")
  [ "$got" -eq "$2" ] || fail "job $1: $got of $2 ranks finished"
}

run one_job "$np" "$host" "$(free_port)" &
expect_exit 0 $! one_job
expect_ok one_job "$np"

port=$(free_port)
run trainer 1 "$host" "$port" 0 "$np" &
trainer=$!
run server $((np - 1)) "$host" "$port" 1 "$np" &
server=$!
expect_exit 0 "$trainer" trainer
expect_exit 0 "$server" server
expect_ok trainer 1
expect_ok server $((np - 1))
finish
