#!/usr/bin/env bash
# Starts or stops the ompi-server that separately launched MPI jobs share, so
# that they can form one group (StatelessProcessGroup::Create with host and
# port; Open MPI 4.1 connects jobs only through such a server).
#
#   usage: ompi_server.sh start|stop|status --uri FILE
#
#   start   runs ompi-server in the background, writing its contact URI to
#           FILE (and its pid to FILE.pid); returns once FILE is written.
#   stop    stops the server FILE.pid names.
#   status  exits 0 if that server runs.
#   --uri   where the URI goes (default: $FASTVIDEO_OMPI_SERVER).
#   -h, --help  print this and exit.
#
# Then launch every job with `mpilaunch.sh --ompi-server FILE ...` (installed
# as fastvideo-mpilaunch), or `mpirun --ompi-server file:FILE --mca osc
# sm,rdma,pt2pt ...`.
set -euo pipefail

command=
uri=${FASTVIDEO_OMPI_SERVER:-}
while [ $# -gt 0 ]; do
  case "$1" in
    start|stop|status) command=$1; shift ;;
    --uri) uri=$2; shift 2 ;;
    --uri=*) uri=${1#--uri=}; shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "ompi_server.sh: unknown argument '$1' (--help lists them)" >&2; exit 2 ;;
  esac
done
[ -n "$command" ] || { echo "ompi_server.sh: say start, stop or status (--help)" >&2; exit 2; }
[ -n "$uri" ] || { echo "ompi_server.sh: --uri FILE is required" >&2; exit 2; }
pidfile="$uri.pid"

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "$command" in
  start)
    if running; then
      echo "ompi_server.sh: a server already runs for $uri (pid $(cat "$pidfile"))" >&2
      exit 1
    fi
    command -v ompi-server >/dev/null || {
      echo "ompi_server.sh: ompi-server is not on PATH (Debian: openmpi-bin)" >&2; exit 1; }
    rm -f "$uri"
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    # setsid: the server outlives the shell that started it.
    setsid ompi-server --no-daemonize -r "$uri" </dev/null >"$uri.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 100); do
      [ -s "$uri" ] && { echo "ompi-server running (pid $(cat "$pidfile")), URI in $uri"; exit 0; }
      running || break
      sleep 0.1
    done
    echo "ompi_server.sh: ompi-server did not write $uri; its output:" >&2
    cat "$uri.log" >&2
    exit 1 ;;
  stop)
    if running; then kill "$(cat "$pidfile")"; fi
    rm -f "$pidfile" "$uri" "$uri.log" ;;
  status)
    running ;;
esac
