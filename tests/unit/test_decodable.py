"""codec.decodable: many loss patterns at once, in agreement with the Decoder and the oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codec import CodecError, Decoder, decodable, encode
from tests.support import oracle


def _decoder_says(m: int, redundancy: int, received: np.ndarray, version: int, stream: np.ndarray) -> list[bool]:
    out = []
    for row in received:
        counters = np.flatnonzero(row) + 1
        decoder = Decoder(m, stream.shape[1], version)
        out.append(decoder.push_many(counters, stream[counters - 1]))
        if out[-1]:
            assert decoder.result() == stream[:m].tobytes()
    return out


@st.composite
def patterns(draw: st.DrawFn) -> tuple[int, int, int, np.ndarray]:
    m = draw(st.one_of(st.sampled_from([1, 2, 3, 4, 8, 16, 32, 64, 128]), st.integers(1, 150)))
    redundancy = draw(st.one_of(st.just(0), st.integers(0, 60)))
    version = draw(st.sampled_from([1, 2]))
    trials = draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    loss = draw(st.floats(0, 0.6))
    received = rng.random((trials, m + redundancy)) >= loss
    if draw(st.booleans()):
        received[:, :m] = True  # only coded fragments lost
    return m, redundancy, version, received


@settings(max_examples=150, deadline=None)
@given(patterns())
def test_agrees_with_decoder_and_oracle(case: tuple[int, int, int, np.ndarray]) -> None:
    m, redundancy, version, received = case
    got = decodable(m, redundancy, received, version)
    assert got.dtype == bool and got.shape == (len(received),)
    expected = [oracle.recoverable(m, redundancy, row.tolist(), version) for row in received]
    assert got.tolist() == expected
    stream = encode(np.random.default_rng(m).bytes(m * 3), 3, redundancy, version)
    assert _decoder_says(m, redundancy, received, version, stream) == expected


@pytest.mark.parametrize("version", [1, 2])
def test_thousands_of_patterns_at_the_edge_of_decodability(version: int) -> None:
    # M = 64 (a power of two) with 12 coded fragments and 12 lost: about half the patterns succeed.
    m, redundancy = 64, 14
    rng = np.random.default_rng(version)
    received = np.ones((3000, m + redundancy), bool)
    for row in received:
        row[rng.choice(m + redundancy, 12, replace=False)] = False
    got = decodable(m, redundancy, received, version)
    assert 0.05 < got.mean() < 0.95
    stream = encode(rng.bytes(m * 4), 4, redundancy, version)
    assert got.tolist() == _decoder_says(m, redundancy, received, version, stream)
    sample = rng.choice(len(received), 200, replace=False)
    assert got[sample].tolist() == [oracle.recoverable(m, redundancy, received[t].tolist(), version) for t in sample]


def test_special_cases() -> None:
    assert decodable(1, 3, np.array([[False, True, True, True], [True, False, False, False]])).tolist() == [False, True]
    assert decodable(5, 0, np.array([[True] * 5, [True] * 4 + [False]])).tolist() == [True, False]
    assert decodable(2, 2, np.array([[False, True, True, True]])).tolist() == [True]


def test_shape_is_checked() -> None:
    with pytest.raises(CodecError, match=r"\(trials, 13\)"):
        decodable(10, 3, np.ones((4, 12), bool))
