"""fastvideo_dist against mpi4py's pickle-based calls, in the same run.

    fastvideo-mpilaunch --np 2 [--transport tcp] /usr/bin/python3 tools/benchmark/python_benchmark.py \
        shm|tcp [--payloads dict,16-layer-dict] [--rounds 3]

Rows: a small dict, a 16-layer metadata dict, 1 MiB of bytes and a 64 MiB
tensor, point to point (one way, timed as a ping-pong / 2), broadcast and
all_gather; and barrier. A last row is the transport's own floor, raw MPI
through mpi4py's buffer calls: a 64-byte ping-pong by MPI_Put +
MPI_Win_flush_local into the reader's window, which it polls (how our
small messages travel), in the fastvideo_dist column, against MPI_Send /
MPI_Recv (how mpi4py's do) in the mpi4py column.
Prints microseconds per operation for each and the ratio mpi4py / ours
(above 1: ours is faster): the median of ROUNDS rounds, ours and mpi4py's
alternating, so that both see the same machine. Absolute numbers drift on a
shared machine.
"""
import argparse
import time

import torch

import fastvideo_dist

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("transport", nargs="?", default="?", help="shm or tcp, for the heading")
parser.add_argument("--payloads", default="dict,16-layer-dict,1MiB-bytes,64MiB-tensor",
                    help="comma-separated payload names")
parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per row")
args = parser.parse_args()

PAYLOADS = [
    ("dict", {"step": 123, "name": "layer.0.weight", "shape": [4096, 4096]}, 2000),
    # A weight-sync step's metadata: about 1 KiB encoded, pushed whole.
    ("16-layer-dict", {f"layer.{i}.weight": {"shape": [4096, 4096], "dtype": "bfloat16"}
                       for i in range(16)}, 1000),
    ("1MiB-bytes", b"x" * (1 << 20), 50),
    ("64MiB-tensor", torch.ones(16 << 20, dtype=torch.float32), 5),
]
KNOWN = {name for name, _, _ in PAYLOADS}
WANTED = args.payloads.split(",")
if not set(WANTED) <= KNOWN:
    parser.error(f"unknown payloads {sorted(set(WANTED) - KNOWN)}; known: {sorted(KNOWN)}")
ROUNDS = args.rounds

group = fastvideo_dist.StatelessProcessGroup.from_comm()  # initializes MPI
from mpi4py import MPI  # noqa: E402  (after: MPI is initialized already)

comm = MPI.COMM_WORLD
rank, size = group.rank, group.world_size


def timed(operation, iterations):
    comm.Barrier()
    group.barrier()
    start = time.perf_counter()
    for _ in range(iterations):
        operation()
    elapsed = time.perf_counter() - start
    # The slowest rank's time is the operation's.
    return comm.allreduce(elapsed, op=MPI.MAX) / iterations * 1e6


def ping_pong_ours(obj):
    def run():
        if rank == 0:
            group.send_obj(obj, dst=1)
            group.recv_obj(src=1)
        elif rank == 1:
            group.send_obj(group.recv_obj(src=0), dst=0)
    return run


def ping_pong_mpi4py(obj):
    def run():
        if rank == 0:
            comm.send(obj, dest=1)
            comm.recv(source=1)
        elif rank == 1:
            comm.send(comm.recv(source=0), dest=0)
    return run


def ping_pong_put_floor():
    """Raw MPI_Put of a 64-byte message and its number into the peer's window,
    which polls its own memory (MPI_Win_sync lets osc/pt2pt land puts)."""
    window = MPI.Win.Allocate(72, comm=comm)
    mine = memoryview(window.tomemory()).cast("Q")
    mine[0] = 0
    window.Lock_all(MPI.MODE_NOCHECK)
    window.Sync()
    message = bytearray(72)
    number = memoryview(message).cast("Q")
    peer = 1 - rank
    step = [0]  # the message number of this ping-pong, in both directions

    def send():
        number[0] = step[0]
        window.Put(message, peer)
        window.Flush_local(peer)

    def wait():
        while mine[0] < step[0]:
            window.Sync()

    def run():
        step[0] += 1
        if rank == 0:
            send()
            wait()
        elif rank == 1:
            wait()
            send()
    return window, run


def ping_pong_send_floor():
    message = bytearray(72)

    def run():
        if rank == 0:
            comm.Send(message, dest=1)
            comm.Recv(message, source=1)
        elif rank == 1:
            comm.Recv(message, source=0)
            comm.Send(message, dest=0)
    return run


def compared(label, ours, theirs, iterations, per_call=1.0):
    """A row: the median of ROUNDS alternating rounds of each."""
    mine, other = [], []
    for _ in range(ROUNDS):
        mine.append(timed(ours, iterations) / per_call)
        other.append(timed(theirs, iterations) / per_call)
    return label, sorted(mine)[ROUNDS // 2], sorted(other)[ROUNDS // 2]


rows = []
for name, obj, iterations in PAYLOADS:
    if name not in WANTED:
        continue
    rows.append(compared(f"p2p {name}", ping_pong_ours(obj), ping_pong_mpi4py(obj), iterations,
                         per_call=2))
    rows.append(compared(f"broadcast {name}",
                         lambda: group.broadcast_obj(obj if rank == 0 else None, src=0),
                         lambda: comm.bcast(obj if rank == 0 else None, root=0), iterations))
    rows.append(compared(f"all_gather {name}", lambda: group.all_gather_obj(obj),
                         lambda: comm.allgather(obj), iterations))
rows.append(compared("barrier", group.barrier, comm.Barrier, 2000))
floor_window, put_floor = ping_pong_put_floor()
rows.append(compared("floor: MPI_Put vs MPI_Send", put_floor, ping_pong_send_floor(), 2000,
                     per_call=2))
floor_window.Unlock_all()
floor_window.Free()

if rank == 0:
    print(f"# {size} ranks, transport {args.transport}: microseconds per operation")
    print(f"{'operation':<26}{'fastvideo_dist':>16}{'mpi4py':>12}{'mpi4py/ours':>13}")
    for label, ours, theirs in rows:
        print(f"{label:<26}{ours:>16.2f}{theirs:>12.2f}{theirs / ours:>12.2f}x")
group.close()
