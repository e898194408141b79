"""`fuota plan --offline` as an operator runs it, in a subprocess, for a campaign of 300 devices and for one of
100 000 (a CSV of 100 000 rows): goals ≤ 2 s and ≤ 5 s (issue 16, item 5). The plain baseline, measured in the same
run, is the floor of any fuota command: a subprocess importing fuota's command line (interpreter start-up and
imports).
`python -m benchmarks.plan_scale` runs it alone.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.timing import best_of, duration

GOALS = {300: 2.0, 100_000: 5.0}
GEN_APP_KEY = "504e83e6dd1a457af1bf93f99d362e89"


def _write(folder: Path, devices: int) -> None:
    (folder / "fw.bin").write_bytes(bytes(range(256)) * 54)
    (folder / f"devices{devices}.csv").write_text("dev_eui\n" + "".join(f"70b3d5e75e{i:06x}\n" for i in range(devices)))
    (folder / f"c{devices}.toml").write_text(
        f'name = "scale"\nfirmware = "fw.bin"\nbackend = "iot"\ndevices_file = "devices{devices}.csv"\n'
        'redundancy_percent = 30\n\n[iotsquare]\nregion = "eu868"\nsubnet = "ch_00-07"\n'
        f'gen_app_key = "{GEN_APP_KEY}"\n'
    )


def _run(folder: Path, *args: str) -> None:
    command = [sys.executable, "-m", "fuota", "--config", str(folder / "fuota.toml"), *args]
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {result.stderr}")


def measure(repeat: int = 3) -> dict[str, float]:
    """{what: best seconds}: the start-up floor, then `plan --offline` per campaign size."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        config = folder / "fuota.toml"
        config.write_text(
            f'[store]\nurl = "sqlite:///{folder / "fuota.db"}"\n\n[backends.iot]\nkind = "iotsquare"\n'
            'base_url = "http://127.0.0.1:9"\ntoken = "bench-token"\n'
        )
        config.chmod(0o600)
        imports = [sys.executable, "-c", "import fuota.cli.app"]
        found = {"plain: start-up": best_of(lambda: subprocess.run(imports, check=True), repeat)[0]}
        for devices in GOALS:
            _write(folder, devices)
            run = best_of(lambda d=devices: _run(folder, "plan", f"c{d}.toml", "--offline", "--json"), repeat)
            found[f"plan --offline, {devices} devices"] = run[0]
    return found


def table(found: dict[str, float]) -> str:
    """The figures, each with its goal and the ratio to the start-up floor."""
    floor = found["plain: start-up"]
    lines = []
    for (name, seconds), goal in zip(found.items(), [None, *GOALS.values()], strict=True):
        verdict = "" if goal is None else f"  goal ≤ {goal:g} s: {'yes' if seconds <= goal else 'NO'}"
        lines.append(f"{name:34s} {duration(seconds):>9s}  {seconds / floor:4.1f}× start-up{verdict}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(measure()))
