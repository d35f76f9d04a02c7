#!/usr/bin/env bash
# One side of a cross-job group dies (SIGKILL) after the group formed: the
# other side's next calls fail at once (Unavailable, seen through the
# lifelines) naming the ranks that are gone, Close() returns instead of
# hanging, and it forms a new group with the restarted job.   usage: cross_job_killed_test.sh TRANSPORT
set -uo pipefail
transport=$1
source tests/cross_job_lib.sh

port=$(free_port)
port2=$(free_port)
killed=(--scenario=killed --victim 1 --victims 1,2 --world_size 3 --large_bytes 1048576)
launch A 1 "${killed[@]}" --ranks 0 --port "$port" --port2 "$port2" & a=$!
launch B 2 "${killed[@]}" --ranks 1,2 --port "$port" & b=$!
expect_exit nonzero "$b" B
# The restarted job joins the survivors' new group.
launch B2 2 --scenario=exchange --rounds 1 --large_bytes 1048576 --ranks 1,2 \
    --world_size 3 --port "$port2" & b2=$!
expect_exit 0 "$a" A
expect_exit 0 "$b2" B2
grep -q "formed again with the restarted job" "$tmp/A.log" || fail "job A did not form again"
finish
