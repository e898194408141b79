"""codec.matrix: the parity rows of every reference, and the oracle on random sizes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codec.matrix import _v1_plain_block, parity_matrix, parity_rows, prbs23_step
from tests.support import oracle
from tests.support.vectors import load_json

CASES = load_json("matrix_rows.json")["cases"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"M{c['M']}-R{c['R']}")
@pytest.mark.parametrize("version", [1, 2])
def test_reproduces_matrix_rows_json(case: dict, version: int) -> None:
    matrix = parity_matrix(case["M"], case["R"], version)
    expected = case["rows"][f"v{version}"]["columns_per_row_k"]
    assert [matrix.columns(k).tolist() for k in range(1, case["R"] + 1)] == expected


@pytest.mark.parametrize("case", [c for c in CASES if c["M"] > 3], ids=lambda c: f"M{c['M']}")
def test_v2_is_not_the_matlab_seed_reading(case: dict) -> None:
    matrix = parity_matrix(case["M"], case["R"], 2)
    matlab = case["rows"]["v2-matlab-seed"]["columns_per_row_k"]
    assert any(matrix.columns(k).tolist() != matlab[k - 1] for k in range(1, case["R"] + 1))


def test_prbs23_uses_plus_not_or() -> None:
    # Above 2²³ "+" carries where "|" would not: 2²³ + 2²³ + 1 has bit 0 and bit 5 differing → b = 1.
    x = (1 << 24) - 1
    assert prbs23_step(x) == oracle.prbs23(x) == (x >> 1) + (((x ^ (x >> 5)) & 1) << 22)
    assert prbs23_step(0b100001) == 0b10000


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 300), r=st.integers(0, 40), version=st.sampled_from([1, 2]))
def test_rows_match_oracle(m: int, r: int, version: int) -> None:
    dense = parity_matrix(m, r, version).dense()
    assert dense.shape == (r, m)
    for k in range(1, r + 1):
        assert dense[k - 1].astype(int).tolist() == oracle.matrix_row(k, m, version)


@pytest.mark.parametrize("m", [20, 64, 287])
@pytest.mark.parametrize("version", [1, 2])
def test_high_k_rows_where_plus_and_or_differ(m: int, version: int) -> None:
    # Seeds 1 + 1001·k reach 2²³ from k = 8381 on: the exact "+" prefix must be taken there.
    ks = np.array([8380, 8381, 8384, 8400, 9000, 12000, 16383 - m])
    rows = np.unpackbits(parity_rows(m, ks, version), axis=1, count=m, bitorder="little")
    for k, row in zip(ks.tolist(), rows, strict=True):
        assert row.tolist() == oracle.matrix_row(k, m, version)


@given(m=st.integers(2, 2000), version=st.sampled_from([1, 2]))
@settings(max_examples=30, deadline=None)
def test_weights(m: int, version: int) -> None:
    weights = parity_matrix(m, 8, version).dense().sum(axis=1)
    if version == 2:
        assert (weights == m // 2).all()
    else:
        assert (weights <= m // 2).all() and (weights >= 1).all()


def test_parity_rows_is_parity_matrix() -> None:
    full = parity_matrix(1000, 700, 1).packed
    ks = np.array([700, 1, 300, 129, 128])
    assert (parity_rows(1000, ks, 1) == full[ks - 1]).all()


def test_cached_and_read_only() -> None:
    a = parity_matrix(100, 30, 2)
    assert parity_matrix(100, 30, 2) is a
    with pytest.raises(ValueError, match="read-only"):
        a.packed[0, 0] = 1


@settings(max_examples=40, deadline=None)
@given(
    m=st.integers(3, 3000).filter(lambda m: m & (m - 1) != 0),
    first_k=st.integers(1, 8400),
    rows=st.integers(1, 24),
)
def test_v1_plain_block_matches_oracle(m: int, first_k: int, rows: int) -> None:
    # The v1 shortcut scatters draws from the PRBS planes; below the 2²³ seeds it must equal the oracle's rows.
    packed = _v1_plain_block(first_k, rows, m)
    if 1 + 1001 * (first_k + rows - 1) >= 1 << 23:
        assert packed is None
        return
    assert packed is not None
    dense = np.unpackbits(packed, axis=1, count=m, bitorder="little")
    for k in range(first_k, first_k + rows):
        assert dense[k - first_k].tolist() == oracle.matrix_row(k, m, 1)
