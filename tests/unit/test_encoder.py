"""codec.encode: byte-exact with every reference vector, and with the oracle on random inputs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codec import CodecError, PlanError, encode
from tests.support import oracle
from tests.support.vectors import load_index

INDEX = load_index()
OURS = [v for v in INDEX if v["matrix"] in ("v1", "v2")]
MATLAB = [v for v in INDEX if v["matrix"] == "v2-matlab-seed"]


def _input(vectors: Path, size: int) -> bytes:
    return (vectors / "inputs" / f"in_{size}.bin").read_bytes()


@pytest.mark.parametrize("vector", OURS, ids=lambda v: f"{v['matrix']}-{v['case']}")
def test_reproduces_reference_vector(vectors: Path, vector: dict) -> None:
    version = int(vector["matrix"][1])
    out = encode(_input(vectors, vector["size"]), vector["fragSize"], vector["redundancy"], version)
    assert out.shape == (vector["nbFrag"] + vector["redundancy"], vector["fragSize"])
    assert out.dtype == np.uint8
    expected = (vectors / vector["file"]).read_bytes()
    assert hashlib.sha256(expected).hexdigest() == vector["sha256"]
    assert out.tobytes() == expected


@pytest.mark.parametrize("vector", MATLAB, ids=lambda v: v["case"])
def test_v2_differs_from_matlab_seed_wherever_coded_fragments_differ(vectors: Path, vector: dict) -> None:
    shape = (vector["nbFrag"] + vector["redundancy"], vector["fragSize"])
    matlab = np.frombuffer((vectors / vector["file"]).read_bytes(), np.uint8).reshape(shape)
    reference_v2 = np.frombuffer((vectors / vector["file"].replace("v2-matlab-seed", "v2")).read_bytes(), np.uint8)
    ours = encode(_input(vectors, vector["size"]), vector["fragSize"], vector["redundancy"], 2)
    differs_from_reference = (reference_v2.reshape(shape) != matlab).any(axis=1)
    differs_from_ours = (ours != matlab).any(axis=1)
    assert (differs_from_ours == differs_from_reference).all()
    assert not differs_from_ours[: vector["nbFrag"]].any()  # the uncoded fragments are the data in both


@settings(max_examples=80, deadline=None)
@given(
    data=st.binary(min_size=1, max_size=3000),
    frag_size=st.integers(1, 64),
    redundancy=st.integers(0, 40),
    version=st.sampled_from([1, 2]),
)
def test_matches_oracle(data: bytes, frag_size: int, redundancy: int, version: int) -> None:
    assert encode(data, frag_size, redundancy, version).tobytes() == b"".join(
        oracle.encode(data, frag_size, redundancy, version)
    )


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview, lambda b: np.frombuffer(b, np.uint8)])
def test_accepts_bytes_like_and_uint8_arrays(kind) -> None:
    data = bytes(range(200))
    assert (encode(kind(data), 48, 3) == encode(data, 48, 3)).all()


def test_layout_rows_are_data_then_coded() -> None:
    data = bytes(range(1, 101))
    out = encode(data, 48, 2)
    assert out[0].tobytes() == data[:48] and out[2].tobytes() == data[96:] + bytes(44)
    assert out[3].tobytes() == oracle.encode(data, 48, 2)[3]


@pytest.mark.parametrize(
    ("args", "error", "words"),
    [
        ((b"", 48, 1), PlanError, ["size", "0"]),
        ((b"abc", 0, 1), PlanError, ["frag_size", "0", "1..255"]),
        ((b"abc", 300, 1), PlanError, ["frag_size", "300"]),
        ((b"abc", 48, -2), PlanError, ["redundancy", "-2"]),
        ((b"abc", 48, 1, 3), PlanError, ["version", "3"]),
        (("text", 48, 1), CodecError, ["str", "bytes"]),
        ((np.zeros(4, np.int32), 48, 1), CodecError, ["int32", "uint8"]),
    ],
)
def test_bad_input_says_what_and_why(args: tuple, error: type, words: list[str]) -> None:
    with pytest.raises(error) as info:
        encode(*args)
    for word in words:
        assert word in str(info.value)
