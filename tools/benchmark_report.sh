#!/usr/bin/env bash
# Runs the channel benchmark at several rank counts on shm and tcp, and
# writes into a folder: one Markdown report with a table per run, the JSON
# of every run, and latency.png (gnuplot): one-way latency against object
# size at 2 ranks, this module against raw MPI, one line each per transport.
#
# Then across simulated nodes (tools/cluster.sh; needs root): 2 nodes x 1
# rank and 2 nodes x 2 ranks, TCP (veth) between nodes and shared memory
# within. Then the cross-job configuration: 2 ranks, each a job of its own
# (two mpirun launches through one ompi-server) forming the group with
# Create(host, port, ...), against raw MPI on the same merged communicator.
#
#   bazel run -c opt //tools:benchmark_report -- --out DIR [--ranks "2 4 8"]
#       [--transports "shm tcp"] [--nodes "2x1 2x2"] [--iterations N]
#       [--rounds N] [--no-cross-job]
set -euo pipefail

out= ranks="2 4 8" transports="shm tcp" nodes="2x1 2x2" iterations=1000 rounds=5 cross_job=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --ranks) ranks=$2; shift 2 ;;
    --transports) transports=$2; shift 2 ;;
    --nodes) nodes=$2; shift 2 ;;
    --iterations) iterations=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --no-cross-job) cross_job=0; shift ;;
    *) echo "benchmark_report.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] || { echo "benchmark_report.sh: --out DIR is required" >&2; exit 2; }
case "$out" in /*) ;; *) out="${BUILD_WORKING_DIRECTORY:-$PWD}/$out" ;; esac
command -v gnuplot >/dev/null || { echo "gnuplot is missing: run tools/setup.sh" >&2; exit 1; }
mkdir -p "$out"

# Inputs are runfiles (bazel run starts in the runfiles tree).
runfiles=${RUNFILES_DIR:-${BASH_SOURCE[0]}.runfiles}/fastvideo_dist
[ -f "$runfiles/tools/mpilaunch.sh" ] || runfiles=$PWD
benchmark="$runfiles/tools/channel_benchmark"
launch="$runfiles/tools/mpilaunch.sh"
ompi_server="$runfiles/tools/ompi_server.sh"
cluster="$runfiles/tools/cluster.sh"

report="$out/benchmark.md"
{
  echo "# fastvideo_dist channel against raw MPI"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(hostname -s); each row: the"
  echo "median of $rounds alternating rounds of the channel and of raw MPI."
  echo "Latency ratios are channel / MPI (lower is better), bandwidth ratios"
  echo "channel / MPI (higher is better)."
} > "$report"

for transport in $transports; do
  for np in $ranks; do
    name="$transport-np$np"
    echo "== $name" >&2
    "$launch" --np "$np" --transport "$transport" --no-tag "$benchmark" \
      --measures=latency,sweep,bandwidth,collectives,create --iterations="$iterations" \
      --rounds="$rounds" --json="$out/$name.json" --markdown="$out/$name.md" \
      --sweep_data="$out/$name.sweep" >&2
    { echo; echo "## $np ranks, $transport"; echo; cat "$out/$name.md"; } >> "$report"
    rm "$out/$name.md"
  done
done

for shape in $nodes; do
  node_count=${shape%x*} per_node=${shape#*x}
  name="nodes$shape"
  echo "== $name" >&2
  if ! why_not=$("$cluster" check 2>&1); then
    { echo; echo "## $node_count nodes x $per_node: not run (${why_not#cluster.sh: })"; } >> "$report"
    continue
  fi
  "$launch" --nodes "$node_count" --np $((node_count * per_node)) --no-tag "$benchmark" \
    --measures=latency,bandwidth,collectives,create --iterations="$iterations" \
    --rounds="$rounds" --json="$out/$name.json" --markdown="$out/$name.md" >&2
  {
    echo; echo "## $node_count nodes x $per_node (simulated: veth TCP between nodes, osc/pt2pt)"; echo
    cat "$out/$name.md"
  } >> "$report"
  rm "$out/$name.md"
done

if [ "$cross_job" = 1 ]; then
  name=cross-job-np2
  echo "== $name" >&2
  server_dir=$(mktemp -d /tmp/fvbench.XXXXXX)
  "$ompi_server" start --uri "$server_dir/uri" >&2
  port=$(( 20000 + RANDOM % 20000 ))
  common=(--measures=latency,bandwidth,collectives --iterations="$iterations"
          --rounds="$rounds" --cross_job_port="$port")
  "$launch" --np 1 --ompi-server "$server_dir/uri" --no-tag "$benchmark" "${common[@]}" \
    --cross_job_rank=0 --json="$out/$name.json" --markdown="$out/$name.md" >&2 &
  first=$!
  "$launch" --np 1 --ompi-server "$server_dir/uri" --no-tag "$benchmark" "${common[@]}" \
    --cross_job_rank=1 >&2 || true
  wait "$first" || true
  "$ompi_server" stop --uri "$server_dir/uri"
  rm -rf "$server_dir"
  {
    echo; echo "## 2 ranks, two jobs (Create(host, port, ...); osc/pt2pt over TCP)"; echo
    cat "$out/$name.md" 2>/dev/null || echo "(the cross-job run failed: see its output)"
  } >> "$report"
  rm -f "$out/$name.md"
fi

plot_lines=()
for transport in $transports; do
  data="$out/$transport-np2.sweep"
  [ -f "$data" ] || continue
  plot_lines+=("'$data' using 1:2 with linespoints title 'fastvideo\\_dist, $transport'")
  plot_lines+=("'$data' using 1:3 with linespoints dashtype 2 title 'raw MPI, $transport'")
done
if [ ${#plot_lines[@]} -gt 0 ]; then
  gnuplot <<GNUPLOT
set terminal pngcairo size 900,560 font 'DejaVu Sans,11'
set output '$out/latency.png'
set title 'One-way latency, 2 ranks: send\\_obj/recv\\_obj against MPI\\_Send/MPI\\_Recv'
set xlabel 'object size (bytes)'
set ylabel 'latency (microseconds)'
set logscale xy
set grid
set key top left
plot $(IFS=,; echo "${plot_lines[*]}")
GNUPLOT
  { echo; echo "![latency against object size](latency.png)"; } >> "$report"
fi
echo "wrote $report and $out/latency.png" >&2
