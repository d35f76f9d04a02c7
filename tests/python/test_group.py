"""The group's methods and attributes against the original's documented
behaviour (fastvideo.distributed.utils.StatelessProcessGroup)."""
import inspect
import time

import pytest

import fastvideo_dist
from fastvideo_dist import StatelessProcessGroup


def test_rank_and_world_size(group):
    gathered = group.all_gather_obj(group.rank)
    assert gathered == list(range(group.world_size))
    assert group.data_expiration_seconds == 3600


def test_send_recv_ring_updates_counters(group):
    n, me = group.world_size, group.rank
    dst, src = (me + 1) % n, (me - 1) % n
    sent_before = group.send_dst_counter[dst]
    received_before = group.recv_src_counter[src]
    group.send_obj({"from": me, "to": dst}, dst=dst)
    assert group.recv_obj(src=src) == {"from": src, "to": me}
    assert group.send_dst_counter[dst] == sent_before + 1
    assert group.recv_src_counter[src] == received_before + 1
    assert sorted(group.send_dst_counter) == list(range(n))  # a dict keyed by rank


def test_messages_of_one_pair_arrive_in_send_order(group):
    n, me = group.world_size, group.rank
    dst, src = (me + 1) % n, (me - 1) % n
    for i in range(40):
        group.send_obj(("step", i), dst=dst)
    assert [group.recv_obj(src=src) for _ in range(40)] == [("step", i) for i in range(40)]


def test_send_to_self(group):
    group.send_obj(["to", "myself"], dst=group.rank)
    assert group.recv_obj(src=group.rank) == ["to", "myself"]


def test_many_ranks_send_to_one(group):
    if group.rank != 0:
        for i in range(50):
            group.send_obj({"rank": group.rank, "i": i}, dst=0)
        return
    for src in reversed(range(1, group.world_size)):  # any order of sources
        got = [group.recv_obj(src=src) for _ in range(50)]
        assert got == [{"rank": src, "i": i} for i in range(50)]


def test_broadcast_obj_from_every_rank(group):
    for src in range(group.world_size):
        sent_before = group.broadcast_send_counter
        received_before = group.broadcast_recv_src_counter[src]
        obj = {"root": src, "payload": b"x" * 100}
        result = group.broadcast_obj(obj if group.rank == src else None, src=src)
        assert result == obj
        if group.rank == src:
            assert result is obj  # the original returns its argument on the source
            assert group.broadcast_send_counter == sent_before + 1
        else:
            assert group.broadcast_recv_src_counter[src] == received_before + 1


def test_all_gather_obj(group):
    mine = {"rank": group.rank, "name": f"worker-{group.rank}"}
    gathered = group.all_gather_obj(mine)
    assert gathered == [{"rank": r, "name": f"worker-{r}"} for r in range(group.world_size)]
    assert gathered[group.rank] is mine


def test_entries_hold_unread_messages_until_read(group):
    n, me = group.world_size, group.rank
    dst, src = (me + 1) % n, (me - 1) % n
    before = time.time()
    group.send_obj("unread for now", dst=dst)
    keys = [key for key, _ in group.entries]
    times = [t for _, t in group.entries]
    if dst != me:
        assert any(f"send_to/{dst}/" in key for key in keys), keys
        assert all(before - 5 <= t <= time.time() + 5 for t in times)
    group.barrier()  # every message is published, none read
    assert group.recv_obj(src=src) == "unread for now"
    group.barrier()  # every message read: its space comes back by the next wait
    group.barrier()
    assert not any(f"send_to/{dst}/" in key for key, _ in group.entries)


def test_stats(group):
    stats = group.stats
    assert stats["objects_sent"] >= 1 and stats["objects_received"] >= 1
    assert set(stats) >= {"bytes_in_use", "peak_bytes_in_use", "entries_in_use"}


def test_recv_timeout_names_peer_and_key(group):
    peer = (group.rank + 1) % group.world_size
    start = time.monotonic()
    with pytest.raises(TimeoutError) as caught:
        group.recv_obj(src=peer, timeout=0.3)
    assert time.monotonic() - start >= 0.25
    assert isinstance(caught.value, fastvideo_dist.DeadlineExceededError)
    assert isinstance(caught.value, fastvideo_dist.Error)
    message = str(caught.value)
    assert f"rank {peer}" in message and "send_to/" in message, message


@pytest.mark.parametrize("call", ["send_obj", "recv_obj", "broadcast_obj"])
def test_wrong_peer_is_value_error(group, call):
    bad = group.world_size
    with pytest.raises(ValueError) as caught:
        if call == "send_obj":
            group.send_obj("x", dst=bad)
        elif call == "recv_obj":
            group.recv_obj(src=bad)
        else:
            group.broadcast_obj("x", src=bad)
    assert isinstance(caught.value, fastvideo_dist.InvalidArgumentError)
    assert str(bad) in str(caught.value)


def test_negative_timeout_is_value_error(group):
    with pytest.raises(ValueError, match="timeout"):
        group.barrier(timeout=-1)


def test_arguments_match_as_in_python(group):
    me = group.rank
    group.send_obj("positional", me, 30)
    group.send_obj(dst=me, obj="keywords", timeout=None)
    assert group.recv_obj(me, 30.0) == "positional"
    assert group.recv_obj(src=me) == "keywords"
    assert group.broadcast_obj("b", me if group.world_size == 1 else 0, timeout=30) == "b"
    assert group.all_gather_obj(obj=me, timeout=30) == list(range(group.world_size))
    sent_before = group.send_dst_counter[me]
    refused = [
        (lambda: group.send_obj("x"), r"send_obj\(\) missing required argument 'dst'"),
        (lambda: group.send_obj("x", me, dst=me), "multiple values for argument 'dst'"),
        (lambda: group.send_obj("x", dst=me, to=me), "unexpected keyword argument 'to'"),
        (lambda: group.send_obj("x", me, 1, 2), r"takes at most 3 arguments \(4 given\)"),
        (lambda: group.send_obj("x", dst="0"), "dst must be an int, not 'str'"),
        (lambda: group.send_obj("x", dst=True), "dst must be an int, not 'bool'"),
        (lambda: group.recv_obj(src=1.0), "src must be an int, not 'float'"),
        (lambda: group.barrier(timeout="1"), "timeout must be seconds"),
    ]
    for call, message in refused:
        with pytest.raises(TypeError, match=message):
            call()
    with pytest.raises(ValueError, match="dst is out of range"):
        group.send_obj("x", dst=2**40)
    assert group.send_dst_counter[me] == sent_before  # nothing was sent
    assert str(inspect.signature(group.send_obj)) == "(obj, dst, timeout=None)"


def test_barrier_with_timeout(group):
    for _ in range(5):
        group.barrier(timeout=30)


def test_subgroup_of_listed_ranks(group):
    if group.world_size < 2:
        pytest.skip("needs 2 ranks")
    if group.rank < 2:
        with StatelessProcessGroup.from_comm(ranks=[1, 0], timeout=30) as pair:
            assert pair.world_size == 2 and pair.rank == 1 - group.rank
            assert pair.all_gather_obj(group.rank) == [1, 0]
        assert pair.closed


def test_mpi4py_communicator(group):
    MPI = pytest.importorskip("mpi4py.MPI")
    halves = MPI.COMM_WORLD.Split(color=group.rank % 2, key=group.rank)
    try:
        with StatelessProcessGroup.from_comm(halves, timeout=30) as half:
            assert half.world_size == halves.Get_size()
            members = half.all_gather_obj(group.rank)
            assert members == [r for r in range(group.world_size) if r % 2 == group.rank % 2]
    finally:
        halves.Free()


def test_from_comm_refuses_other_objects():
    with pytest.raises(TypeError, match="mpi4py"):
        StatelessProcessGroup.from_comm(comm="MPI_COMM_WORLD")


def test_calls_after_close_fail_clearly(group):
    other = StatelessProcessGroup.from_comm(timeout=30)
    other.close()
    other.close()  # twice is harmless
    with pytest.raises(fastvideo_dist.FailedPreconditionError, match="after close"):
        other.send_obj("x", dst=0)
    with pytest.raises(RuntimeError):
        other.barrier()


def test_expire_data_drops_unread_messages(group):
    n, me = group.world_size, group.rank
    dst, src = (me + 1) % n, (me - 1) % n
    with StatelessProcessGroup.from_comm(data_expiration_seconds=1, timeout=30) as short:
        assert short.data_expiration_seconds == 1
        short.send_obj(b"stale" * 1000, dst=dst)  # pulled, not pushed: it can expire
        sent_at = time.monotonic()
        short.barrier()
        # Expiration is about time passing: wait out the second, then expire.
        time.sleep(max(0.0, 1.2 - (time.monotonic() - sent_at)))
        short.expire_data()
        assert not [key for key, _ in short.entries if f"send_to/{dst}/" in key]
        short.barrier()
        if src != me:
            with pytest.raises(fastvideo_dist.NotFoundError):
                short.recv_obj(src=src, timeout=10)
        short.barrier()
