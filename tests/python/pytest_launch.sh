#!/usr/bin/env bash
# Runs pytest on every rank of an mpirun job, with the package from
# //tools/python:fastvideo_dist, under Debian's /usr/bin/python3.
#   usage: pytest_launch.sh shm|tcp|nodesN NP TEST_FILE... [-- PYTEST_ARGS]
#   nodesN: NP ranks over N simulated nodes (tools/cluster.sh), shm within.
set -euo pipefail
transport=$1 np=$2
shift 2
placement=()
if [[ "$transport" == nodes* ]]; then
  placement=(--nodes "${transport#nodes}")
  transport=shm
fi
export PYTHONPATH="$PWD/tools/python${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
exec tools/mpilaunch.sh --np "$np" --transport "$transport" "${placement[@]}" \
  /usr/bin/python3 -m pytest -q --color=no -p no:cacheprovider --rootdir=tests/python "$@"
