#!/usr/bin/env bash
# Each error of StatelessProcessGroup::Create(host, port, ...) as its callers
# see it: the status code and what the message names, on every caller that
# can be told.   usage: cross_job_errors_test.sh TRANSPORT
set -uo pipefail
transport=$1
source tests/cross_job_lib.sh

# scenario NAME: a fresh port for each.
scenario() { echo; echo "=== $1"; port=$(free_port); }
error_args() {  # error_args CODE TEXT: what cross_job_bin must see
  echo --scenario=error --port="$port" --expect_code="$1" --expect_text="$2"
}

scenario "nobody listens"
launch B 1 --ranks 1 --world_size 2 --timeout_s 3 \
    $(error_args DEADLINE_EXCEEDED "nobody listened") & b=$!
expect_exit 0 $b B

scenario "not every rank joins"
launch A 1 --ranks 0 --world_size 3 --timeout_s 3 \
    $(error_args DEADLINE_EXCEEDED "1 of 3 ranks had joined; missing: 1,2") & a=$!
expect_exit 0 $a A

scenario "the port is taken"
launch A 1 --ranks 0 --world_size 2 --hold_port $(error_args ALREADY_EXISTS "already in use") &
a=$!
expect_exit 0 $a A

scenario "two callers claim one rank"
launch A 1 --ranks 0 --world_size 3 $(error_args INVALID_ARGUMENT "claimed by two callers") &
a=$!
launch B 2 --ranks 1,1 --world_size 3 $(error_args INVALID_ARGUMENT "claimed by two callers") &
b=$!
expect_exit 0 $a A
expect_exit 0 $b B

scenario "a rank outside [0, world_size)"
launch A 1 --ranks 0 --world_size 2 --timeout_s 5 \
    $(error_args DEADLINE_EXCEEDED "missing: 1") & a=$!
launch B 1 --ranks 5 --world_size 2 $(error_args INVALID_ARGUMENT "asked for rank 5") & b=$!
expect_exit 0 $a A
expect_exit 0 $b B

scenario "callers disagree on world_size"
launch A 1 --ranks 0 --world_size 2 \
    $(error_args INVALID_ARGUMENT "rank 1 says world_size 3, rank 0 says 2") & a=$!
launch B 1 --ranks 1 --world_size 3 \
    $(error_args INVALID_ARGUMENT "rank 1 says world_size 3, rank 0 says 2") & b=$!
expect_exit 0 $a A
expect_exit 0 $b B

scenario "jobs started without an ompi-server"
without_server=1 launch A 1 --ranks 0 --world_size 2 \
    $(error_args FAILED_PRECONDITION "ompi-server") & a=$!
without_server=1 launch B 1 --ranks 1 --world_size 2 \
    $(error_args FAILED_PRECONDITION "ompi-server") & b=$!
expect_exit 0 $a A
expect_exit 0 $b B

# A process started without mpirun (an MPI singleton) has no ompi-server:
# it cannot join another job's group, and says so; everyone is told.
scenario "a singleton joins a job's group"
launch A 1 --ranks 0 --world_size 2 $(error_args FAILED_PRECONDITION "cannot connect jobs") &
a=$!
singleton B --ranks 1 --world_size 2 $(error_args FAILED_PRECONDITION "ompi-server") & b=$!
expect_exit 0 $a A
expect_exit 0 $b B

# ...but it forms a group of its own ranks.
scenario "a singleton forms a group of one"
singleton A --ranks 0 --world_size 1 --port="$port" --rounds 1 & a=$!
expect_exit 0 $a A

finish
