"""One benchmark figure and the aligned table they are printed in."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.timing import duration, limit


@dataclass(frozen=True, slots=True)
class Figure:
    """A measured figure: the codec's time, the plain reference's (maybe scaled from a subset) and the verdicts."""

    name: str
    fuota: float
    runs: int
    plain: float
    plain_note: str
    target: float | None
    reference: str
    ok: bool
    check_note: str = ""

    @property
    def met(self) -> bool | None:
        """Whether the codec's time is within the issue's target; None where the issue sets none."""
        return None if self.target is None else self.fuota <= self.target


def machine() -> str:
    """One line of machine context: numpy, Python, CPUs (all and usable), CPU model."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"numpy {np.__version__} · Python {platform.python_version()} · {os.cpu_count()} CPUs ({usable} usable) · "
        f"{model}"
    )


def progress(step: int, total: int, text: str) -> None:
    """Say which benchmark starts now, at once (stdout may be a pipe under make)."""
    print(f"[{step}/{total}] {text} …", flush=True)


def table(figures: list[Figure]) -> str:
    """The figures as an aligned plain-text table, with how each plain figure was obtained."""
    header = ("benchmark", "fuota", "best of", "plain", "×", "target", "met", "check", "plain measured on")
    rows = [header]
    for f in figures:
        target = "—" if f.target is None else f"≤ {limit(f.target)}"
        if f.reference:
            target += f" ({f.reference})"
        rows.append(
            (
                f.name,
                duration(f.fuota),
                str(f.runs),
                duration(f.plain),
                f"{f.plain / f.fuota:.0f}×",
                target,
                {None: "—", True: "yes", False: "NO"}[f.met],
                ("ok" if f.ok else "FAIL") + (f" ({f.check_note})" if f.check_note else ""),
                f.plain_note,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    # Names, targets and notes read left-aligned; the numbers line up on the right.
    right = {1, 2, 3, 4}
    lines = []
    for row in rows:
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [cell.rjust(width) if i in right else cell.ljust(width) for i, (cell, width) in pairs]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
