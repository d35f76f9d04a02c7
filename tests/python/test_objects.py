"""Objects: every plain type comes back with its exact Python type; anything
else is refused by name and path before anything is sent."""
import collections
import enum
import math

import pytest
import torch

import fastvideo_dist

SAMPLES = [
    None,
    True,
    False,
    0,
    -1,
    2**63 - 1,
    -(2**63),
    0.0,
    -0.0,
    1.5e300,
    math.inf,
    "",
    "plain",
    "ünïcödé ✓ 漢字 \U0001F600",
    b"",
    b"\x00\xff" * 10,
    [],
    (),
    {},
    [1, "two", 3.0, None, b"four"],
    (1, (2, (3, ()))),
    {"step": 123, "name": "layer.0.weight", "shape": [4096, 4096]},
    {1: "one", -2: "minus two", "three": 3},
    {"nested": [{"a": (1, 2)}, {"b": [True, False]}], "empty": {"x": []}},
    [[[[[[[[[[1]]]]]]]]]],
    b"x" * (1 << 20),  # 1 MiB: goes through the window, not the inbox
    "long string " * 10000,
]


def same(a, b):
    """Equal, with the same types all the way down (tuples stay tuples)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, torch.Tensor):
        return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b) or (a != a and b != b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.parametrize("index", range(len(SAMPLES)))
def test_plain_types_round_trip_with_exact_types(group, index):
    sample = SAMPLES[index]
    got = group.broadcast_obj(sample if group.rank == 0 else None, src=0)
    assert same(got, sample), (type(got), type(sample))
    # And point to point, with the same bytes.
    n, me = group.world_size, group.rank
    group.send_obj(sample, dst=(me + 1) % n)
    assert same(group.recv_obj(src=(me - 1) % n), sample)


def test_nan_round_trips(group):
    got = group.broadcast_obj(math.nan if group.rank == 0 else None, src=0)
    assert type(got) is float and math.isnan(got)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16,
                                   torch.bfloat16, torch.int64, torch.int32, torch.int8,
                                   torch.uint8, torch.bool, torch.complex64])
def test_tensors_inside_objects(group, dtype):
    tensor = (torch.arange(24) % 3).reshape(2, 3, 4).to(dtype)
    sample = {"weight": tensor, "meta": ("w", list(tensor.shape)),
              "view": tensor.transpose(0, 2)}
    got = group.broadcast_obj(sample if group.rank == 0 else None, src=0)
    assert same(got, sample)
    if group.rank != 0:
        assert got["view"].is_contiguous()  # strided in, contiguous out


def test_large_tensor_object(group):
    tensor = torch.arange(16 << 20, dtype=torch.float32)  # 64 MiB
    got = group.broadcast_obj({"t": tensor} if group.rank == 0 else None, src=0)
    assert torch.equal(got["t"], tensor)


class Point:
    pass


class Color(enum.IntEnum):
    RED = 1


def function():
    pass


REFUSED = [
    ({"a": [1, {2}]}, TypeError, r"obj\['a'\]\[1\]: type 'set'"),
    ([Point()], TypeError, r"obj\[0\]: type 'test_objects.Point'"),
    ({"f": function}, TypeError, r"obj\['f'\]: type 'function'"),
    ({"e": Color.RED}, TypeError, r"obj\['e'\]: type 'test_objects.Color'"),
    (collections.OrderedDict(a=1), TypeError, "OrderedDict"),
    ({"p": collections.namedtuple("P", "x")(1)}, TypeError, r"obj\['p'\]: type"),
    ({1.5: "float key"}, TypeError, "dict key of type 'float'"),
    ({"x": torch.empty(2, device="meta")}, TypeError, r"obj\['x'\]: a torch.Tensor on meta"),
    ({"x": torch.nn.Parameter(torch.ones(2))}, TypeError, r"obj\['x'\]: type"),
    ({"big": 2**64}, OverflowError, r"obj\['big'\]: an int that does not fit in 64 bits"),
    ([1, "\ud800"], ValueError, r"obj\[1\]: a str that is not valid Unicode"),
]


@pytest.mark.parametrize("index", range(len(REFUSED)))
def test_unsupported_objects_are_refused_before_sending(group, index):
    obj, error, pattern = REFUSED[index]
    n, me = group.world_size, group.rank
    dst, src = (me + 1) % n, (me - 1) % n
    sent_before = dict(group.send_dst_counter)
    with pytest.raises(error, match=pattern):
        group.send_obj(obj, dst=dst)
    with pytest.raises(error, match=pattern):
        group.broadcast_obj(obj, src=me)
    with pytest.raises(error, match=pattern):
        group.all_gather_obj(obj)
    assert group.send_dst_counter == sent_before
    # Nothing went out: the next message is the next one received.
    group.send_obj("after", dst=dst)
    assert group.recv_obj(src=src) == "after"


def test_shared_references_and_cycles_are_refused(group):
    shared = [1, 2]
    with pytest.raises(ValueError, match=r"obj\[1\]: this list is also reached earlier"):
        group.send_obj([shared, shared], dst=group.rank)
    cycle = {"name": "loop"}
    cycle["self"] = cycle
    with pytest.raises(ValueError, match=r"obj\['self'\]: a cycle"):
        group.send_obj(cycle, dst=group.rank)
    tensor = torch.ones(2)
    with pytest.raises(ValueError, match="also reached earlier"):
        group.send_obj((tensor, tensor), dst=group.rank)
    shared_dict = {"k": 1}
    with pytest.raises(ValueError, match=r"obj\['b'\]: this dict is also reached earlier"):
        group.send_obj({"a": shared_dict, "b": shared_dict}, dst=group.rank)
    cyclic_tuple = ([],)
    cyclic_tuple[0].append(cyclic_tuple)
    with pytest.raises(ValueError, match=r"obj\[0\]\[0\]\[0\]: a cycle"):
        group.send_obj(cyclic_tuple, dst=group.rank)
    # Values may repeat: they have no identity to keep (Python shares equal
    # constants, like the shapes below).
    shape = (4096, 4096)
    values = ["same", "same", None, None, 7, 7, shape, {"shape": shape}]
    group.send_obj(values, dst=group.rank)
    assert group.recv_obj(src=group.rank) == values


def test_nesting_limit(group):
    deep = []
    for _ in range(200):
        deep = [deep]
    with pytest.raises(ValueError, match="nested deeper than 128"):
        group.send_obj(deep, dst=group.rank)


def test_a_tensor_message_is_not_an_object(group):
    n, me = group.world_size, group.rank
    group.send(torch.arange(4), dst=(me + 1) % n)
    with pytest.raises(TypeError) as caught:
        group.recv_obj(src=(me - 1) % n)
    assert isinstance(caught.value, fastvideo_dist.MessageTypeError)
    assert "'tensor'" in str(caught.value) and "stays queued" in str(caught.value)
    # It stayed queued: receiving it as a tensor still works.
    got = torch.empty(4, dtype=torch.int64)
    group.recv(got, src=(me - 1) % n)
    assert torch.equal(got, torch.arange(4))
