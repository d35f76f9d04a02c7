#!/usr/bin/env bash
# Runs tools/weight_sync_example.cc as two separately launched jobs: a
# trainer (1 rank) and an inference server (--server-ranks, default 2),
# through an ompi-server of their own, and fails if either fails.
#
#   usage: weight_sync_example.sh [--server-ranks N] [--transport shm|tcp]
#                                 [--port PORT] [--program BINARY]
#   -h, --help  print this and exit.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Under `bazel run` the program is in this script's runfiles.
for dir in "${RUNFILES_DIR:-/nonexistent}/fastvideo_dist/tools" \
    "${BASH_SOURCE[0]}.runfiles/fastvideo_dist/tools"; do
  if [ -x "$dir/weight_sync_example_bin" ]; then here=$(cd "$dir" && pwd); break; fi
done
server_ranks=2
transport=shm
port=$(( 20000 + RANDOM % 20000 ))
program=
while [ $# -gt 0 ]; do
  case "$1" in
    --server-ranks) server_ranks=$2; shift 2 ;;
    --transport) transport=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --program) program=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "weight_sync_example.sh: unknown argument '$1' (--help lists them)" >&2; exit 2 ;;
  esac
done
# The program and the helpers: next to this script when installed, in the
# runfiles under Bazel.
launch=$here/mpilaunch.sh server=$here/ompi_server.sh
[ -x "$launch" ] || launch=$here/fastvideo-mpilaunch
[ -x "$server" ] || server=$here/fastvideo-ompi-server
[ -n "$program" ] || program=$here/weight_sync_example_bin
[ -x "$program" ] || program=$here/fastvideo-weight-sync

tmp=$(mktemp -d /tmp/fvsync.XXXXXX)
trap '"$server" stop --uri "$tmp/uri"; rm -rf "$tmp"' EXIT
"$server" start --uri "$tmp/uri"
"$launch" --np 1 --transport "$transport" --ompi-server "$tmp/uri" --no-tag \
    "$program" --role trainer --port "$port" --server_ranks "$server_ranks" &
trainer=$!
set +e
"$launch" --np "$server_ranks" --transport "$transport" --ompi-server "$tmp/uri" --no-tag \
    "$program" --role server --port "$port" --server_ranks "$server_ranks"
server_status=$?
wait "$trainer"
trainer_status=$?
echo "trainer job exited $trainer_status, server job exited $server_status"
[ "$trainer_status" -eq 0 ] && [ "$server_status" -eq 0 ]
