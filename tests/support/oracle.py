"""A plain, obviously-correct TS004 implementation: the oracle the codec is compared with.

Written straight from TS004-NOTES §2 with Python integers, one step at a time and no cleverness, so that a
reader can check it line by line against the notes. Slow on purpose; the benchmarks also use it as their baseline.
"""

from __future__ import annotations


def prbs23(x: int) -> int:
    """One PRBS23 step, with "+" as every reference writes it."""
    b = (x & 1) ^ ((x >> 5) & 1)
    return (x >> 1) + (b << 22)


def is_power_of_two(m: int) -> bool:
    return m & (m - 1) == 0


def matrix_row(k: int, m: int, version: int = 1) -> list[int]:
    """Row k (1-based redundancy index) of the parity matrix: a list of 0/1 of length m."""
    mm = m + 1 if is_power_of_two(m) else m
    x = 1 + 1001 * k
    row = [0] * m
    ones = 0
    while ones < m // 2:
        r = 1 << 16
        while r >= m:
            x = prbs23(x)
            r = x % mm
        if version == 2 and row[r]:
            continue  # v2: a column drawn twice is discarded, the PRBS has advanced all the same
        if not row[r]:
            ones += 1 if version == 2 else 0
        row[r] = 1
        if version == 1:
            ones += 1  # v1: exactly floor(M/2) draws, duplicates included
    return row


def encode(data: bytes, frag_size: int, redundancy: int, version: int = 1) -> list[bytes]:
    """All M+R fragments, uncoded (zero-padded) then coded."""
    m = -(-len(data) // frag_size)
    padded = data + bytes(m * frag_size - len(data))
    uncoded = [padded[i * frag_size : (i + 1) * frag_size] for i in range(m)]
    coded = []
    for k in range(1, redundancy + 1):
        row = matrix_row(k, m, version)
        acc = 0
        for j in range(m):
            if row[j]:
                acc ^= int.from_bytes(uncoded[j], "little")
        coded.append(acc.to_bytes(frag_size, "little"))
    return uncoded + coded


def solve(m: int, frag_size: int, fragments: dict[int, bytes], version: int = 1) -> bytes | None:
    """Recover the M uncoded fragments from the received ones {counter: fragment}, or None if impossible.

    Gaussian elimination over GF(2): each equation is a bit mask over the M uncoded fragments (a Python int)
    and a right-hand side (the fragment as an int).
    """
    equations = []
    for counter, fragment in fragments.items():
        value = int.from_bytes(fragment, "little")
        if counter <= m:
            equations.append((1 << (counter - 1), value))
        else:
            row = matrix_row(counter - m, m, version)
            equations.append((sum(1 << j for j in range(m) if row[j]), value))
    pivots: dict[int, tuple[int, int]] = {}
    for mask, value in equations:
        for col, (pmask, pvalue) in pivots.items():
            if mask >> col & 1:
                mask ^= pmask
                value ^= pvalue
        if mask == 0:
            continue
        col = (mask & -mask).bit_length() - 1
        for other, (omask, ovalue) in list(pivots.items()):
            if omask >> col & 1:
                pivots[other] = (omask ^ mask, ovalue ^ value)
        pivots[col] = (mask, value)
    if len(pivots) < m:
        return None
    return b"".join(pivots[j][1].to_bytes(frag_size, "little") for j in range(m))


def recoverable(m: int, redundancy: int, received: list[bool], version: int = 1) -> bool:
    """Whether the uncoded data can be recovered when `received[n-1]` says counter n arrived."""
    lost = [j for j in range(m) if not received[j]]
    rows = []
    for k in range(1, redundancy + 1):
        if received[m + k - 1]:
            row = matrix_row(k, m, version)
            rows.append(sum(1 << i for i, j in enumerate(lost) if row[j]))
    for col in range(len(lost)):
        index = next((i for i, r in enumerate(rows) if r >> col & 1), None)
        if index is None:
            return False
        pivot = rows.pop(index)
        rows = [r ^ pivot if r >> col & 1 else r for r in rows]
    return True
