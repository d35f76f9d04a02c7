#!/usr/bin/env bash
# Two separately launched jobs form one group (StatelessProcessGroup::Create
# with host and port) through one ompi-server, exchange, close and form
# again.   usage: cross_job_test.sh TRANSPORT LAYOUT
#   LAYOUT 1+2: job A holds group rank 0, job B ranks 1,2;
#          2+2: job A ranks 0,2, job B ranks 1,3 (interleaved).
set -uo pipefail
transport=$1
layout=$2
source tests/cross_job_lib.sh

case "$layout" in
  1+2) a=(1 0) b=(2 1,2) world=3 ;;
  2+2) a=(2 0,2) b=(2 1,3) world=4 ;;
  *) echo "unknown layout $layout"; exit 2 ;;
esac
port=$(free_port)
launch A "${a[0]}" --ranks "${a[1]}" --world_size "$world" --port "$port" &
job_a=$!
launch B "${b[0]}" --ranks "${b[1]}" --world_size "$world" --port "$port" &
job_b=$!
expect_exit 0 "$job_a" A
expect_exit 0 "$job_b" B
grep -q "round 1 done" "$tmp/A.log" || fail "job A did not finish its second round"
finish
