"""Encoder figures: 1 MiB at 232 B (v1, v2) and at 48 B, parity-matrix generation included."""

from __future__ import annotations

from types import ModuleType

import codec
import codec.matrix
from benchmarks.report import Figure
from benchmarks.timing import best_of, once
from benchmarks.workload import SEED, image, plain_coded_row, session

MIB = 1 << 20
REPEAT = 5
REPEAT_SLOW = 3
PLAIN_ROWS_48 = 1000  # of 6554 coded rows: the full plain encode at 48 B takes about 30 s


def encode_232(oracle: ModuleType, version: int) -> Figure:
    """Encode 1 MiB / 232 B / 30 %; the plain reference runs in full and every row is compared with it."""
    data = image(MIB, SEED)
    m, r = session(MIB, 232)
    assert (m, r) == (4520, 1356)
    seconds, coded = best_of(lambda: codec.encode(data, 232, r, version), REPEAT, setup=codec.matrix.clear_cache)
    plain_seconds, plain = once(lambda: oracle.encode(data, 232, r, version))
    ok = coded.shape == (m + r, 232) and coded.tobytes() == b"".join(plain)
    return Figure(
        name=f"encode 1 MiB/232 B v{version}",
        fuota=seconds,
        runs=REPEAT,
        plain=plain_seconds,
        plain_note=f"in full ({r} coded rows)",
        target=0.025 if version == 1 else None,
        reference="C 50 ms" if version == 1 else "",
        ok=ok,
        check_note=f"all {m + r} rows",
    )


def encode_48(oracle: ModuleType) -> Figure:
    """Encode 1 MiB / 48 B / 30 % v1 (M + R above the 14-bit counter on purpose, as the references allow).

    The plain reference computes only the first PLAIN_ROWS_48 coded rows, scaled by rows: every v1 row costs the
    same floor(M/2) draws and XORs. Those rows and the last three are compared with the codec's.
    """
    data = image(MIB, SEED)
    m, r = session(MIB, 48)
    assert (m, r) == (21846, 6554)
    seconds, coded = best_of(lambda: codec.encode(data, 48, r, 1), REPEAT_SLOW, setup=codec.matrix.clear_cache)
    plain_seconds, plain = once(lambda: oracle.encode(data, 48, PLAIN_ROWS_48, 1))
    ok = coded.shape == (m + r, 48) and coded[: m + PLAIN_ROWS_48].tobytes() == b"".join(plain)
    tail = range(r - 2, r + 1)
    ok = ok and all(coded[m + k - 1].tobytes() == plain_coded_row(oracle, data, 48, k, 1) for k in tail)
    return Figure(
        name="encode 1 MiB/48 B v1",
        fuota=seconds,
        runs=REPEAT_SLOW,
        plain=plain_seconds * r / PLAIN_ROWS_48,
        plain_note=f"{PLAIN_ROWS_48}/{r} coded rows, scaled",
        target=0.35,
        reference="C 0.75 s",
        ok=ok,
        check_note=f"{PLAIN_ROWS_48 + len(tail)} coded rows",
    )
