"""fastvideo_dist against mpi4py's pickle-based calls, in the same run.

    fastvideo-mpilaunch --np 2 [--transport tcp] /usr/bin/python3 tools/benchmark/python_benchmark.py shm|tcp

Rows: a small dict, a 16-layer metadata dict, 1 MiB of bytes and a 64 MiB
tensor, point to point (one way, timed as a ping-pong / 2), broadcast and
all_gather; and barrier.
Prints microseconds per operation for each and the ratio mpi4py / ours
(above 1: ours is faster): the median of ROUNDS rounds, ours and mpi4py's
alternating, so that both see the same machine. Absolute numbers drift on a
shared machine.
"""
import sys
import time

import torch

import fastvideo_dist

group = fastvideo_dist.StatelessProcessGroup.from_comm()  # initializes MPI
from mpi4py import MPI  # noqa: E402  (after: MPI is initialized already)

comm = MPI.COMM_WORLD
rank, size = group.rank, group.world_size
PAYLOADS = [
    ("dict", {"step": 123, "name": "layer.0.weight", "shape": [4096, 4096]}, 2000),
    # A weight-sync step's metadata: about 1 KiB encoded, pushed whole.
    ("16-layer-dict", {f"layer.{i}.weight": {"shape": [4096, 4096], "dtype": "bfloat16"}
                       for i in range(16)}, 1000),
    ("1MiB-bytes", b"x" * (1 << 20), 50),
    ("64MiB-tensor", torch.ones(16 << 20, dtype=torch.float32), 5),
]


ROUNDS = 3


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


def compared(label, ours, theirs, iterations, per_call=1.0):
    """A row: the median of ROUNDS alternating rounds of each."""
    mine, other = [], []
    for _ in range(ROUNDS):
        mine.append(timed(ours, iterations) / per_call)
        other.append(timed(theirs, iterations) / per_call)
    return label, sorted(mine)[ROUNDS // 2], sorted(other)[ROUNDS // 2]


rows = []
for name, obj, iterations in PAYLOADS:
    rows.append(compared(f"p2p {name}", ping_pong_ours(obj), ping_pong_mpi4py(obj), iterations,
                         per_call=2))
    rows.append(compared(f"broadcast {name}",
                         lambda: group.broadcast_obj(obj if rank == 0 else None, src=0),
                         lambda: comm.bcast(obj if rank == 0 else None, root=0), iterations))
    rows.append(compared(f"all_gather {name}", lambda: group.all_gather_obj(obj),
                         lambda: comm.allgather(obj), iterations))
rows.append(compared("barrier", group.barrier, comm.Barrier, 2000))

if rank == 0:
    transport = sys.argv[1] if len(sys.argv) > 1 else "?"
    print(f"# {size} ranks, transport {transport}: microseconds per operation")
    print(f"{'operation':<26}{'fastvideo_dist':>16}{'mpi4py':>12}{'mpi4py/ours':>13}")
    for label, ours, theirs in rows:
        print(f"{label:<26}{ours:>16.2f}{theirs:>12.2f}{theirs / ours:>12.2f}x")
group.close()
