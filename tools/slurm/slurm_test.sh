#!/usr/bin/env bash
# Starts a throw-away Slurm cluster (munge, slurmctld, slurmd; all state in
# one temporary folder), installs fastvideo_dist as a module, submits
# tools/slurm/fastvideo_demo.sbatch, then fastvideo_cross_job.sbatch (a
# trainer job and a server job forming one group), waits for each, and
# checks its state, exit code and output file, and that the nodes went back
# to idle. The daemons are stopped by their PIDs whatever happens.
#
# Where this machine can simulate nodes (tools/cluster.sh), the cluster has
# 3 compute nodes, one slurmd in each (slurmctld on the first), and the demo
# runs as `sbatch -N 3 --ntasks-per-node=2`; elsewhere one node, said so.
set -euo pipefail

if [ -z "${FASTVIDEO_CLUSTER:-}" ]; then
  if why_not=$(tools/cluster.sh check 2>&1); then
    exec tools/cluster.sh run --nodes 3 -- "$0" "$@"
  fi
  echo "slurm_test: one node only: ${why_not#cluster.sh: }"
fi

for tool in munged mungekey slurmctld slurmd sbatch scontrol sinfo; do
  command -v "$tool" >/dev/null || {
    echo "slurm_test: $tool is missing: run tools/setup.sh (munge, slurmctld, slurmd, slurm-client)"
    exit 1
  }
done

root=$(mktemp -d /tmp/fvslurm.XXXXXX)  # short: it holds unix sockets
pids=()
cleanup() {
  SLURM_CONF="$root/slurm.conf" scontrol shutdown >/dev/null 2>&1 || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 1
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$root"
}
trap cleanup EXIT INT TERM

prefix="$root/prefix"
tools/install --prefix "$prefix" >/dev/null

# munge: key, socket folder readable by all, daemon in the foreground.
mkdir -p "$root/munge" "$root/state" "$root/spool" "$root/jobs"
chmod 755 "$root" "$root/munge"
mungekey --create --keyfile="$root/munge/munge.key" 2>/dev/null
chmod 600 "$root/munge/munge.key"
munged --foreground --force --key-file="$root/munge/munge.key" \
  --socket="$root/munge/munge.socket" --pid-file="$root/munge/munged.pid" \
  --log-file="$root/munge/munged.log" --seed-file="$root/munge/munged.seed" &
pids+=($!)

# The compute nodes: this host, or the simulated cluster's nodes.
read -r -a nodes <<<"${FASTVIDEO_CLUSTER_NODES:-$(hostname -s)}"
read -r -a addresses <<<"${FASTVIDEO_CLUSTER_ADDRESSES:-127.0.0.1}"
port=$(( 20000 + RANDOM % 20000 ))
cat > "$root/slurm.conf" <<CONF
ClusterName=fvtest
SlurmctldHost=${nodes[0]}(${addresses[0]})
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$root/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$root/state
SlurmdSpoolDir=$root/spool/%n
TmpFS=$root/nodetmp
SlurmctldPidFile=$root/slurmctld.pid
SlurmdPidFile=$root/slurmd.%n.pid
SlurmctldLogFile=$root/slurmctld.log
SlurmdLogFile=$root/slurmd.%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=pmix
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
$(for i in "${!nodes[@]}"; do
  echo "NodeName=${nodes[$i]} NodeAddr=${addresses[$i]} CPUs=$(nproc) RealMemory=1000 State=UNKNOWN"
done)
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$root/slurm.conf"

slurmctld -D -f "$SLURM_CONF" &
pids+=($!)
mkdir -p "$root/nodetmp"
for node in "${nodes[@]}"; do
  mkdir -p "$root/spool/$node" "$root/tmp/$node"
  # Each simulated node's slurmd runs inside that node, with a TmpFS of its
  # own (srun's PMIx makes the same folder names on every node).
  on_node=()
  [ -z "${FASTVIDEO_CLUSTER:-}" ] ||
    on_node=(tools/cluster.sh exec "$node" sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"'
             sh "$root/tmp/$node" "$root/nodetmp")
  "${on_node[@]}" slurmd -D -N "$node" -f "$SLURM_CONF" &
  pids+=($!)
done

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds=$1 what=$2
  shift 2
  for _ in $(seq $((seconds * 5))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "slurm_test: $what did not happen within ${seconds}s"
  tail -n 20 "$root"/*.log "$root"/munge/*.log 2>/dev/null || true
  return 1
}
node_idle() { [ "$(sinfo -h -N -o %T | sort -u)" = idle ]; }
wait_for 30 "slurmctld answering" scontrol ping
wait_for 30 "every node becoming idle" node_idle
echo "== cluster up: $(sinfo -h -N -o '%N %T %c CPUs')"

failed=0
# submit NAME SBATCH_FILE: runs the batch script to its end and checks that
# Slurm saw it complete; its output file is then $root/jobs/NAME.out.
submit() {
  local name=$1 script=$2 submitted sbatch_status job state exit_code
  shift 2
  set +e
  submitted=$(FASTVIDEO_MODULEPATH="$prefix/modulefiles" sbatch --wait --parsable \
    --output="$root/jobs/$name.out" "$@" "$script")
  sbatch_status=$?
  set -e
  job=${submitted%%;*}
  echo "== $name: job $job finished, sbatch --wait exit $sbatch_status"
  cat "$root/jobs/$name.out" || true
  state=$(scontrol show job "$job" | grep -o 'JobState=[A-Z_]*')
  exit_code=$(scontrol show job "$job" | grep -o ' ExitCode=[0-9:]*' | tr -d ' ')
  echo "== $name: $state $exit_code"
  if [ "$sbatch_status" -ne 0 ]; then
    echo "FAIL: $name: sbatch --wait exited $sbatch_status; the daemons' logs end:"
    tail -n 15 "$root"/slurmd.*.log
    failed=1
  fi
  [ "$state" = JobState=COMPLETED ] || { echo "FAIL: $name: $state"; failed=1; }
  [ "$exit_code" = ExitCode=0:0 ] || { echo "FAIL: $name: $exit_code"; failed=1; }
}

submit demo tools/slurm/fastvideo_demo.sbatch -N "${#nodes[@]}" --ntasks-per-node=2 \
  --ntasks=$((2 * ${#nodes[@]}))
output="$root/jobs/demo.out"
[ "$(grep -c 'all checks passed' "$output")" -eq 2 ] ||
  { echo "FAIL: the output file does not show two passing runs"; failed=1; }
for node in "${nodes[@]}"; do  # the demo's table names each rank's host
  [ "$(grep -cE "^\| +[0-9]+ \| $node " "$output")" -eq 4 ] ||
    { echo "FAIL: not 2 ranks on $node in each run"; failed=1; }
done
grep -q '== both runs passed' "$output" || { echo "FAIL: the script did not finish"; failed=1; }
wait_for 30 "the node going back to idle" node_idle || failed=1

# Two separately launched jobs in one allocation form one group.
submit cross_job tools/slurm/fastvideo_cross_job.sbatch
output="$root/jobs/cross_job.out"
[ "$(grep -c 'id of 128 bytes (intact); 3 parameters' "$output")" -eq 3 ] ||
  { echo "FAIL: the trainer and both server ranks did not all print what they got"; failed=1; }
grep -q '== both jobs passed' "$output" || { echo "FAIL: the script did not finish"; failed=1; }
wait_for 30 "the node going back to idle" node_idle || failed=1
[ "$failed" -eq 0 ] && echo "== slurm test passed"
exit "$failed"
