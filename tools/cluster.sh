#!/usr/bin/env bash
# A cluster of simulated nodes on this machine, to try multi-node behaviour
# without a cluster. Each node is a network namespace with its own address
# on a private bridge (10.99.ID.0/24, reaching nothing else), its own host
# name and its own /dev/shm, so Open MPI sees separate hosts: shared memory
# does not connect them, only TCP does. /tmp stays shared, like a shared
# home directory.
#
#   usage: cluster.sh check
#            exit 0 if this machine can make a cluster, else say why (exit 1)
#          cluster.sh run --nodes N [--slots K] [--] COMMAND [ARGS...]
#            bring N nodes up, run COMMAND on node 0 with the cluster's
#            variables (below), tear everything down whatever happens, and
#            exit with COMMAND's status
#          cluster.sh exec NODE COMMAND [ARGS...]
#            run COMMAND on another node of a running cluster
#          cluster.sh down ID
#            tear a cluster down (`run` does it itself; this is for leftovers)
#          cluster.sh agent [SSH-OPTIONS] NODE COMMAND-WORDS...
#            mpirun's launcher (plm_rsh_agent): what ssh would do
#
#   Variables COMMAND sees: FASTVIDEO_CLUSTER (the ID), FASTVIDEO_CLUSTER_NODES
#   (node names, node 0 first), FASTVIDEO_CLUSTER_HOSTFILE (mpirun's
#   --hostfile, K slots a node), FASTVIDEO_CLUSTER_AGENT (for --mca
#   plm_rsh_agent), FASTVIDEO_CLUSTER_ADDRESSES (node addresses, node 0 first).
#   tools/mpilaunch.sh --nodes N does all of it for an MPI job.
#
# Needs root (network namespaces, a bridge, /etc/netns) and iproute2 and
# util-linux's unshare. Clusters that run at the same time get IDs of their
# own (a directory claimed under /run/fastvideo_cluster); one whose owner
# died is torn down by the next `run`.
set -euo pipefail

state_root=/run/fastvideo_cluster
self=$(readlink -f "${BASH_SOURCE[0]}")

die() { echo "cluster.sh: $*" >&2; exit 2; }

node_name() { echo "fv$1n$2"; }           # ID, index: the host and namespace name
bridge_name() { echo "fvbr$1"; }

# Why this machine cannot make a cluster, or nothing.
why_not() {
  [ "$(id -u)" -eq 0 ] || { echo "needs root (network namespaces and a bridge); running as $(id -un)"; return; }
  command -v ip >/dev/null || { echo "needs iproute2's 'ip'"; return; }
  command -v unshare >/dev/null || { echo "needs util-linux's 'unshare'"; return; }
  local probe="fvprobe$$"
  if ! ip netns add "$probe" 2>/dev/null; then
    echo "cannot create network namespaces ('ip netns add' failed)"; return
  fi
  if ! nsenter --net="/run/netns/$probe" unshare --uts --mount true 2>/dev/null; then
    ip netns del "$probe"
    echo "cannot make UTS and mount namespaces inside one ('unshare --uts --mount' failed)"; return
  fi
  ip netns del "$probe"
}

# down ID: everything of cluster ID, whatever of it exists.
down() {
  local id=$1 dir="$state_root/$1" node
  for node in $(cat "$dir/nodes" 2>/dev/null); do
    # Nothing may be left running in a node (an orted, a stray rank).
    local pids
    pids=$(ip netns pids "$node" 2>/dev/null || true)
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
    ip netns del "$node" 2>/dev/null || true
    # A process not yet gone keeps the namespace, and with it the veth
    # pair: deleting our end deletes both.
    ip link del "${node}h" 2>/dev/null || true
    rm -rf "/etc/netns/$node"
  done
  ip link del "$(bridge_name "$id")" 2>/dev/null || true
  rm -rf "$dir"
}

# Clusters whose owner is gone (a run killed with SIGKILL).
reap_orphans() {
  local dir owner
  for dir in "$state_root"/*/; do
    [ -d "$dir" ] || continue
    owner=$(cat "$dir/owner" 2>/dev/null || echo 0)
    if [ "$owner" = 0 ] || ! kill -0 "$owner" 2>/dev/null; then
      down "$(basename "$dir")"
    fi
  done
}

# claim OWNER: the first free ID (mkdir is atomic), printed.
claim() {
  local id
  mkdir -p "$state_root"
  for id in $(seq 1 250); do
    if mkdir "$state_root/$id" 2>/dev/null; then
      echo "$1" >"$state_root/$id/owner"
      echo "$id"
      return
    fi
  done
  die "all 250 cluster IDs are taken (see $state_root)"
}

# up ID NODES SLOTS: the bridge, the nodes, their hosts files, the hostfile.
up() {
  local id=$1 nodes=$2 slots=$3 dir="$state_root/$1" bridge i node hosts=""
  bridge=$(bridge_name "$id")
  ip link add "$bridge" type bridge
  ip link set "$bridge" up
  for ((i = 0; i < nodes; i++)); do
    hosts+="10.99.$id.$((i + 1)) $(node_name "$id" "$i")"$'\n'
  done
  : >"$dir/hostfile"
  for ((i = 0; i < nodes; i++)); do
    node=$(node_name "$id" "$i")
    echo "$node" >>"$dir/nodes"
    ip netns add "$node"
    ip link add "${node}h" type veth peer name eth0 netns "$node"
    ip link set "${node}h" master "$bridge" up
    ip -n "$node" addr add "10.99.$id.$((i + 1))/24" dev eth0
    ip -n "$node" link set eth0 up
    ip -n "$node" link set lo up
    mkdir -p "/etc/netns/$node"
    # on_node mounts this over /etc/hosts inside the node only.
    printf '127.0.0.1 localhost\n%s' "$hosts" >"/etc/netns/$node/hosts"
    echo "$node slots=$slots" >>"$dir/hostfile"
  done
  printf '#!/bin/sh\nexec %q agent "$@"\n' "$self" >"$dir/agent"
  chmod +x "$dir/agent"
}

# on_node NODE COMMAND...: COMMAND as host NODE, with a /dev/shm and an
# /etc/hosts of its own. nsenter, not `ip netns exec`: that remounts /sys,
# which hides the cgroup hierarchies (slurmd needs them).
on_node() {
  local node=$1
  shift
  exec nsenter --net="/run/netns/$node" unshare --uts --mount --propagation private \
      sh -c 'hostname "$0" && mount -t tmpfs tmpfs /dev/shm &&
             mount --bind "/etc/netns/$0/hosts" /etc/hosts && exec "$@"' "$node" "$@"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  check)
    reason=$(why_not)
    [ -z "$reason" ] || { echo "cluster.sh: $reason" >&2; exit 1; }
    ;;
  run)
    nodes=2 slots=2
    while [ $# -gt 0 ]; do
      case "$1" in
        --nodes) nodes=$2; shift 2 ;;
        --slots) slots=$2; shift 2 ;;
        --) shift; break ;;
        -*) die "unknown option '$1'" ;;
        *) break ;;
      esac
    done
    [ $# -gt 0 ] || die "run: no command"
    [[ "$nodes" =~ ^[1-9][0-9]*$ && "$nodes" -le 200 ]] || die "--nodes takes 1 to 200, got '$nodes'"
    reason=$(why_not)
    [ -z "$reason" ] || die "cannot simulate $nodes nodes here: $reason"
    reap_orphans
    id=$(claim $$)
    trap 'down "$id"' EXIT
    trap 'exit 143' TERM INT
    up "$id" "$nodes" "$slots"
    dir="$state_root/$id"
    export FASTVIDEO_CLUSTER=$id
    FASTVIDEO_CLUSTER_NODES=$(tr '\n' ' ' <"$dir/nodes")
    export FASTVIDEO_CLUSTER_NODES=${FASTVIDEO_CLUSTER_NODES% }
    export FASTVIDEO_CLUSTER_HOSTFILE="$dir/hostfile"
    export FASTVIDEO_CLUSTER_AGENT="$dir/agent"
    FASTVIDEO_CLUSTER_ADDRESSES=$(seq -s ' ' -f "10.99.$id.%g" 1 "$nodes")
    export FASTVIDEO_CLUSTER_ADDRESSES
    echo "cluster.sh: $nodes nodes ($FASTVIDEO_CLUSTER_NODES) on 10.99.$id.0/24, $slots slots each"
    status=0
    (on_node "$(node_name "$id" 0)" "$@") || status=$?
    exit "$status"
    ;;
  exec)
    [ $# -ge 2 ] || die "exec: usage: cluster.sh exec NODE COMMAND [ARGS...]"
    ip netns list | grep -qw "^$1" || die "exec: no node '$1' is up"
    on_node "$@"
    ;;
  down)
    [ $# -eq 1 ] || die "down: usage: cluster.sh down ID"
    down "$1"
    ;;
  agent)
    # ssh's options come first; then the host; then the command, whose
    # words ssh would join with spaces for the remote shell.
    while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do shift; done
    [ $# -ge 2 ] || die "agent: usage: cluster.sh agent [OPTIONS] NODE COMMAND..."
    node=$1
    shift
    on_node "$node" sh -c "$*"
    ;;
  -h|--help|"")
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
    [ -n "$cmd" ]
    ;;
  *) die "unknown command '$cmd' (--help lists them)" ;;
esac
