"""Tensor methods (send, recv, broadcast, all_reduce) and the tensor helpers."""
import pytest
import torch

import fastvideo_dist as fd

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64,
          torch.int32, torch.uint8, torch.bool, torch.complex64]


def ring(group):
    n, me = group.world_size, group.rank
    return (me + 1) % n, (me - 1) % n


@pytest.mark.parametrize("dtype", DTYPES)
def test_send_recv_dtypes(group, dtype):
    dst, src = ring(group)
    group.send((torch.arange(12) + group.rank).reshape(3, 4).to(dtype), dst=dst)
    got = torch.zeros(3, 4, dtype=dtype)
    assert group.recv(got, src=src) is got
    assert torch.equal(got, (torch.arange(12) + src).reshape(3, 4).to(dtype))


def test_non_contiguous_source_and_destination(group):
    dst, src = ring(group)
    source = torch.arange(20.0).reshape(4, 5).t()  # strided
    assert not source.is_contiguous()
    group.send(source, dst=dst)
    target = torch.zeros(4, 5).t()
    group.recv(target, src=src)
    assert torch.equal(target, source)


def test_shape_mismatch_on_recv_keeps_the_message(group):
    dst, src = ring(group)
    group.send(torch.ones(2, 3), dst=dst)
    with pytest.raises(TypeError) as caught:
        group.recv(torch.empty(3, 2), src=src)
    assert "[2, 3]" in str(caught.value) and "[3, 2]" in str(caught.value), str(caught.value)
    with pytest.raises(TypeError):
        group.recv(torch.empty(2, 3, dtype=torch.int32), src=src)
    got = torch.empty(2, 3)
    group.recv(got, src=src)
    assert torch.equal(got, torch.ones(2, 3))


def test_recv_needs_a_tensor(group):
    with pytest.raises(TypeError, match="recv: tensor must be a torch.Tensor, not 'list'"):
        group.recv([1, 2], src=0)


def test_broadcast(group):
    for src in range(group.world_size):
        tensor = torch.full((1000,), float(src)) if group.rank == src else torch.zeros(1000)
        assert group.broadcast(tensor, src=src) is tensor
        assert torch.equal(tensor, torch.full((1000,), float(src)))


@pytest.mark.parametrize("op,expected", [
    ("sum", lambda n: sum(range(1, n + 1))),
    ("product", lambda n: __import__("math").factorial(n)),
    ("min", lambda n: 1),
    ("max", lambda n: n),
])
def test_all_reduce(group, op, expected):
    tensor = torch.full((4, 4), float(group.rank + 1))
    group.all_reduce(tensor, op=op)
    assert torch.equal(tensor, torch.full((4, 4), float(expected(group.world_size))))


def test_all_reduce_bad_op(group):
    with pytest.raises(ValueError, match="op must be"):
        group.all_reduce(torch.ones(1), op="mean")


def test_large_tensor(group):
    # 64 MiB, twice the window: a send waits for its reader, so even ranks
    # send first and odd ranks receive first (as with MPI_Send).
    dst, src = ring(group)
    sent = torch.arange(16 << 20, dtype=torch.float32) + group.rank
    got = torch.empty(16 << 20, dtype=torch.float32)
    if group.rank % 2 == 0:
        group.send(sent, dst=dst)
        group.recv(got, src=src)
    else:
        group.recv(got, src=src)
        group.send(sent, dst=dst)
    assert torch.equal(got, torch.arange(16 << 20, dtype=torch.float32) + src)


# ----------------------------------------------------------------- helpers


def test_divide_and_ensure_divisibility():
    assert fd.divide(12, 4) == 3
    assert fd.divide(-6, 3) == -2
    fd.ensure_divisibility(8, 2)
    with pytest.raises(AssertionError, match="^7 is not divisible by 2$"):
        fd.ensure_divisibility(7, 2)
    with pytest.raises(AssertionError, match="7 is not divisible by 2"):
        fd.divide(7, 2)


def test_split_tensor_along_last_dim():
    tensor = torch.arange(24.0).reshape(2, 3, 4)
    chunks = fd.split_tensor_along_last_dim(tensor, 2)
    assert isinstance(chunks, tuple) and len(chunks) == 2
    assert torch.equal(torch.cat(chunks, dim=-1), tensor)
    assert chunks[0].data_ptr() == tensor.data_ptr()  # views, as torch.split gives
    assert not chunks[1].is_contiguous()
    contiguous = fd.split_tensor_along_last_dim(tensor, 2, contiguous_split_chunks=True)
    assert all(c.is_contiguous() for c in contiguous)
    with pytest.raises(AssertionError, match="4 is not divisible by 3"):
        fd.split_tensor_along_last_dim(tensor, 3)
    with pytest.raises(TypeError, match="torch.Tensor"):
        fd.split_tensor_along_last_dim([1, 2], 2)


def test_sequence_padding():
    assert fd.compute_padding_for_sp(10, 4) == (12, 2)
    assert fd.compute_padding_for_sp(12, 4) == (12, 0)
    tensor = torch.ones(2, 10, 3)
    padded = fd.pad_sequence_tensor(tensor, 12, seq_dim=1, pad_value=-1.0)
    assert padded.shape == (2, 12, 3)
    assert torch.equal(padded[:, 10:], torch.full((2, 2, 3), -1.0))
    assert fd.pad_sequence_tensor(tensor, 8) is tensor  # already long enough
    assert torch.equal(fd.unpad_sequence_tensor(padded, 10), tensor)
    with pytest.raises(ValueError, match="seq_dim"):
        fd.pad_sequence_tensor(tensor, 12, seq_dim=5)
    with pytest.raises(ValueError):
        fd.compute_padding_for_sp(10, 0)
