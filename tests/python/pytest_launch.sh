#!/usr/bin/env bash
# Runs pytest on every rank of an mpirun job, with the package from
# //tools/python:fastvideo_dist, under Debian's /usr/bin/python3.
#   usage: pytest_launch.sh shm|tcp NP TEST_FILE... [-- PYTEST_ARGS]
set -euo pipefail
transport=$1 np=$2
shift 2
export PYTHONPATH="$PWD/tools/python${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
exec tools/mpilaunch.sh --np "$np" --transport "$transport" \
  /usr/bin/python3 -m pytest -q --color=no -p no:cacheprovider --rootdir=tests/python "$@"
