"""Code written against the original fastvideo.distributed.utils API, as its
users write it: vLLM's same-node check over a StatelessProcessGroup, and a
weight-sync bootstrap between a trainer (rank 0) and inference workers.
Only the import below differs from the original's:

    from fastvideo.distributed.utils import StatelessProcessGroup

usage: original_api_user.py HOST PORT [FIRST_RANK WORLD_SIZE]
  Group rank = FIRST_RANK + this process's rank in its mpirun job (default
  0), so that a trainer job and a server job can form one group.
"""
import os
import socket
import sys
from multiprocessing import shared_memory
from unittest.mock import patch

from fastvideo_dist import StatelessProcessGroup

MAGIC = b"same-node-magic"


def in_the_same_node_as(pg, source_rank=0):
    """Which ranks share the source rank's node: the source makes a shared
    memory segment and broadcasts its name; who can read it is on the node."""
    shm = None
    is_in_the_same_node = [False] * pg.world_size
    try:
        if pg.rank == source_rank:
            shm = shared_memory.SharedMemory(create=True, size=128)
            shm.buf[:len(MAGIC)] = MAGIC
            pg.broadcast_obj([shm.name], src=source_rank)
            is_in_the_same_node[pg.rank] = True
        else:
            name = pg.broadcast_obj(None, src=source_rank)[0]
            try:
                # As vLLM does: an attached segment is not this process's to
                # clean up (Python's resource tracker would unlink it).
                with patch("multiprocessing.resource_tracker.register",
                           lambda *args, **kwargs: None):
                    shm = shared_memory.SharedMemory(name=name)
                if bytes(shm.buf[:len(MAGIC)]) == MAGIC:
                    is_in_the_same_node[pg.rank] = True
            except OSError:
                pass
        pg.barrier()
    finally:
        if shm is not None:
            shm.close()
    if pg.rank == source_rank and shm is not None:
        shm.unlink()
    gathered = pg.all_gather_obj(is_in_the_same_node)
    return [any(flags[r] for flags in gathered) for r in range(pg.world_size)]


def weight_sync_bootstrap(pg, steps=10):
    """The trainer broadcasts a 128-byte communicator id, sends each worker the
    parameter metadata, and every step ends in a barrier."""
    unique_id = os.urandom(128) if pg.rank == 0 else None
    unique_id = pg.broadcast_obj(unique_id, src=0)
    assert isinstance(unique_id, bytes) and len(unique_id) == 128
    params = [{"name": f"layers.{i}.weight", "dtype": "bfloat16", "shape": (4096, 4096)}
              for i in range(4)]
    if pg.rank == 0:
        for dst in range(1, pg.world_size):
            pg.send_obj({"params": params, "worker": dst}, dst=dst)
        acks = [pg.recv_obj(src) for src in range(1, pg.world_size)]
        assert acks == [{"worker": src, "ok": True} for src in range(1, pg.world_size)]
    else:
        meta = pg.recv_obj(0)
        assert meta == {"params": params, "worker": pg.rank}
        assert isinstance(meta["params"][0]["shape"], tuple)
        pg.send_obj({"worker": pg.rank, "ok": True}, dst=0)
    for step in range(steps):
        if pg.rank == 0:
            pg.broadcast_obj({"step": step, "version": step + 1}, src=0)
        else:
            assert pg.broadcast_obj(None, src=0) == {"step": step, "version": step + 1}
        pg.barrier()
    return unique_id


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    first_rank = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    rank = first_rank + int(os.environ["OMPI_COMM_WORLD_RANK"])
    world_size = (int(sys.argv[4]) if len(sys.argv) > 4
                  else int(os.environ["OMPI_COMM_WORLD_SIZE"]))
    pg = StatelessProcessGroup.create(host=host, port=port, rank=rank, world_size=world_size)
    assert (pg.rank, pg.world_size) == (rank, world_size)
    same_node = in_the_same_node_as(pg, source_rank=0)
    hosts = pg.all_gather_obj(socket.gethostname())
    assert same_node == [host == hosts[0] for host in hosts], (same_node, hosts)
    unique_id = weight_sync_bootstrap(pg)
    ids = pg.all_gather_obj(unique_id)
    assert all(i == unique_id for i in ids)
    # The original's bookkeeping, a dict per peer.
    assert sum(pg.recv_src_counter.values()) == (world_size - 1 if rank == 0 else 1)
    if rank == 0:
        assert pg.broadcast_send_counter >= 11
    else:
        assert pg.broadcast_recv_src_counter[0] >= 11
    pg.expire_data()
    print(f"rank {rank}: same node {same_node}; id {unique_id[:4].hex()}...; 10 steps; ok")


if __name__ == "__main__":
    main()
