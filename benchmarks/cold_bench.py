"""Cold-start figures: the first encode and the first 10 %-loss decode of 1 MiB / 232 B / 30 % v1 in a fresh process.

Each measurement is a subprocess (benchmarks.cold_child), RUNS of them, and the median is reported; the warm
figure is the median of each process's best later call (parity-row cache cleared). The plain reference
(tests/support/oracle.py) is timed in this process, in the same run, and the targets are ratios to it, as the
issue states them: cold encode ≤ 0.035× the plain encode, cold decode ≤ 0.04× the plain solve.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

import codec
from benchmarks.report import Figure
from benchmarks.timing import once
from benchmarks.workload import SEED, image, padded, session, survivors

RUNS = 7
MIB = 1 << 20
FRAG_SIZE = 232
ENCODE_TARGET = 0.035
DECODE_TARGET = 0.04


def _children(args: list[str]) -> list[dict[str, Any]]:
    """RUNS fresh processes of benchmarks.cold_child with `args`, one after the other; their JSON answers."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    answers = []
    for _ in range(RUNS):
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.cold_child", *args],
            capture_output=True,
            text=True,
            check=True,
            cwd=root,
            env=env,
        )
        answers.append(json.loads(done.stdout))
    return answers


def _median(answers: list[dict[str, Any]], key: str) -> float:
    return statistics.median(float(a[key]) for a in answers)


def _rounded(seconds: float) -> float:
    # A target derived from this run's plain time, written with three significant digits.
    return float(f"{seconds:.3g}")


def _cold_and_warm(
    what: str, answers: list[dict], plain_seconds: float, notes: tuple[str, str], factor: float, ok: bool, check: str
) -> list[Figure]:
    """The cold figure of `what` (its target `factor` × the plain reference) and the warm one, from the children's
    `answers`; `notes` are the plain reference's (cold, warm), `check` says what was compared."""
    figure = partial(Figure, runs=RUNS, plain=plain_seconds, ok=ok)
    return [
        figure(
            name=f"cold {what} (median)",
            fuota=_median(answers, "cold"),
            plain_note=notes[0],
            target=_rounded(factor * plain_seconds),
            reference=f"{factor}× plain",
            check_note=f"{check}, every run",
        ),
        figure(
            name=f"warm {what} (median)",
            fuota=_median(answers, "warm"),
            plain_note=notes[1],
            target=None,
            reference="",
            check_note=check,
        ),
    ]


def cold_encode(oracle: ModuleType) -> list[Figure]:
    """Cold and warm encode figures, each child's output compared (by SHA-256) with the plain reference's."""
    data = image(MIB, SEED)
    _, r = session(MIB, FRAG_SIZE)
    answers = _children(["encode"])
    plain_seconds, plain = once(lambda: oracle.encode(data, FRAG_SIZE, r, 1))
    ok = all(a["sha256"] == hashlib.sha256(b"".join(plain)).hexdigest() for a in answers)
    imports = _median(answers, "import_numpy") + _median(answers, "import_codec")
    notes = (f"in full; imports before: numpy+codec {imports * 1e3:.0f} ms", "in full")
    return _cold_and_warm("encode 1 MiB/232 B v1", answers, plain_seconds, notes, ENCODE_TARGET, ok, "sha256 = plain")


def cold_decode(oracle: ModuleType) -> list[Figure]:
    """Cold and warm 10 %-loss decode figures; the plain solve takes the same fragments the codec consumed."""
    data = image(MIB, SEED + 3)
    m, r = session(MIB, FRAG_SIZE)
    coded = codec.encode(data, FRAG_SIZE, r)
    with tempfile.TemporaryDirectory(prefix="fuota-cold-") as folder:
        stream = Path(folder) / "stream.bin"
        coded.tofile(stream)
        answers = _children(["decode", str(stream)])
    used = int(answers[0]["used"])
    counters = survivors(m + r, np.random.default_rng(SEED + 3)).tolist()[:used]
    given = {c: coded[c - 1].tobytes() for c in counters}
    plain_seconds, plain = once(lambda: oracle.solve(m, FRAG_SIZE, given, 1))
    ok = all(a["ok"] and a["used"] == used for a in answers) and plain == padded(data, m, FRAG_SIZE)
    notes = (f"the same {used} fragments",) * 2
    return _cold_and_warm("decode 1 MiB/232 B, 10 % lost", answers, plain_seconds, notes, DECODE_TARGET, ok, "= image")


def main() -> None:
    """`python -m benchmarks.cold_bench`: the cold-start figures alone."""
    from benchmarks.report import machine, table
    from benchmarks.workload import load_oracle

    print(f"fuota codec cold start — {machine()} · load {os.getloadavg()[0]:.1f}", flush=True)
    oracle = load_oracle()
    print(table(cold_encode(oracle) + cold_decode(oracle)))


if __name__ == "__main__":
    main()
