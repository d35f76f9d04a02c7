"""The object codec on its own (fastvideo_dist._core._encode/_decode): what a
peer sends is untrusted, so every truncated or mutated payload must come back
as DataLossError, never as a crash, a hang or another exception."""
import random
import struct

import pytest
import torch

import fastvideo_dist
from fastvideo_dist import _core

SAMPLE = {
    "step": 7,
    "name": "layer.0.weight",
    "shape": (4096, 4096),
    "flags": [True, False, None],
    "scale": 0.5,
    "raw": b"\x00\x01\x02",
    1: {"nested": [[], {}, ()]},
    "tensor": torch.arange(6, dtype=torch.int16).reshape(2, 3),
}


def frame(body):
    """A payload with this body: the frame header of an encoded [] with the
    body length replaced."""
    header = _core._encode([])[:-2]  # b"l" and a varint count
    return header[:-8] + struct.pack("<Q", len(body)) + body


def varint(value):
    """LEB128, as the codec writes lengths, counts and (zigzagged) ints."""
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def zigzag(value):
    return (value << 1) ^ (value >> 63)


def equal(a, b):
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    return a == b


def test_round_trip_keeps_every_type():
    assert equal(_core._decode(_core._encode(SAMPLE)), SAMPLE)


def test_every_truncation_is_data_loss():
    payload = _core._encode(SAMPLE)
    for size in range(len(payload)):
        with pytest.raises(fastvideo_dist.DataLossError):
            _core._decode(payload[:size])


def test_trailing_bytes_are_data_loss():
    with pytest.raises(fastvideo_dist.DataLossError, match="left after the value"):
        _core._decode(frame(b"n" + b"n"))


def test_mutated_payloads_decode_or_say_what_is_wrong():
    """DataLossError, or InvalidArgumentError for a type tag or dtype that is
    not the expected one; always with a message (the peer's bytes escaped)."""
    payload = bytearray(_core._encode(SAMPLE))
    rng = random.Random(12345)
    decoded = 0
    for _ in range(3000):
        mutated = bytearray(payload)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        try:
            _core._decode(bytes(mutated))
            decoded += 1
        except (fastvideo_dist.DataLossError, fastvideo_dist.InvalidArgumentError) as error:
            assert str(error), repr(error)
    assert decoded > 0  # some mutations only change values


@pytest.mark.parametrize(
    "body, message",
    [
        ((b"l" + varint(1)) * 200 + b"n", "nested deeper than 128"),
        (b"l" + varint(2**62), "cannot fit"),
        (b"m" + varint(2**63 + 5), "cannot fit"),
        (b"s" + varint(2) + b"\xff\xfe", "not UTF-8"),
        (b"m" + varint(1) + b"d" + struct.pack("<d", 1.5) + b"n", "neither str nor int"),
        (b"m" + varint(2) + (b"i" + varint(zigzag(1)) + b"n") * 2, "appears twice"),
        (b"m" + varint(2) + (b"s" + varint(1) + b"k" + b"n") * 2, "appears twice"),
        (b"i" + b"\xff" * 10 + b"\x01", "longer than 10 bytes"),
        (b"i" + b"\xff" * 9 + b"\x02", "past 64 bits"),
        (b"?", "unknown value tag"),
    ],
)
def test_hostile_bodies_are_refused_by_name(body, message):
    with pytest.raises(fastvideo_dist.DataLossError, match=message):
        _core._decode(frame(body))


@pytest.mark.parametrize(
    "value", [0, 1, -1, 63, -64, 64, 127, 128, 2**31, -(2**31), 2**63 - 1, -(2**63)])
def test_ints_round_trip_at_every_varint_length(value):
    payload = _core._encode(value)
    assert payload.endswith(b"i" + varint(zigzag(value)))
    assert _core._decode(payload) == value


@pytest.mark.parametrize("size", [0, 1, 127, 128, 16383, 16384, 1 << 20])
def test_lengths_round_trip_at_every_varint_length(size):
    text, blob = "x" * size, b"y" * size
    assert _core._decode(_core._encode(text)) == text
    assert _core._decode(_core._encode(blob)) == blob
    assert len(_core._decode(_core._encode([None] * size))) == size


def test_repeated_short_strs_decode_to_equal_values():
    """Short strs met again are built once (as pickle's memo does): the
    values are the same, and a long one is built each time."""
    keys = ["shape", "dtype", "x" * 40]
    sent = [{k: k for k in keys} for _ in range(40)]
    got = _core._decode(_core._encode(sent))
    assert got == sent
    assert all(type(k) is str for d in got for k in d)


@pytest.mark.parametrize("size", [65000, 65514, 65515, 65536, 70000])
def test_objects_around_the_write_at_once_limit_round_trip(size):
    """Up to 64 KiB encoded, an object is written while it is walked; past
    that (found part-way), it is walked again and encoded later."""
    blob = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    many = ["k%05d" % i for i in range(size // 8)]
    for obj in (blob, [blob[: size // 2], blob[size // 2:]], many, {"t": torch.ones(3), "b": blob}):
        assert equal(_core._decode(_core._encode(obj)), obj)
