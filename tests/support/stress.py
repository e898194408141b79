"""`make stress`: the whole suite, N times in a row, beside a process that burns a core: the flake hunt of issue 17.

    python -m tests.support.stress [--runs N] [--burners K]

First the stress tests (`-m stress`: races repeated hundreds of times, as the four stores opening one new database at
once), then `make test` N times (default 5), each beside K processes spinning on the CPU (default 1, so that on
2 cores the suite has about one core where it counts on two). Each run's result and duration are printed as it
ends, with the failing tests' names; every run's full output is kept in stress-logs/run-N.log. The exit status is
1 when any run failed. Timing-sensitive code (waits, deadlines, daemons, simulators) should pass `make stress`
before it lands: a CI machine is busy in ways a quiet laptop is not.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "stress-logs"
_FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.MULTILINE)
_BURN = "while True:\n    pass"


def _run(label: str, command: list[str], log: Path) -> bool:
    """Run `command` from the repository root, its output into `log`; print one line: result, duration, failures."""
    started = time.monotonic()
    with log.open("w") as out:
        code = subprocess.run(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
    seconds = time.monotonic() - started
    failed = sorted(set(_FAILED.findall(log.read_text(errors="replace"))))
    verdict = "passed" if code == 0 else f"FAILED (exit {code})"
    took = f"{seconds // 60:.0f} min {seconds % 60:04.1f} s"
    print(f"{label}: {verdict} in {took}  ({log.relative_to(ROOT)})", flush=True)
    for name in failed:
        print(f"    {name}", flush=True)
    return code == 0


def main(argv: list[str] | None = None) -> int:
    """Run the stress tests, then the suite `--runs` times beside `--burners` busy processes; 0 when all passed."""
    parser = argparse.ArgumentParser(prog="make stress", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="times to run the whole suite (default 5)")
    parser.add_argument("--burners", type=int, default=1, help="processes spinning beside it (default 1)")
    args = parser.parse_args(argv)
    if args.runs < 0 or args.burners < 0:
        parser.error(f"--runs and --burners must be 0 or more, got {args.runs} and {args.burners}")
    LOGS.mkdir(exist_ok=True)
    burners = [subprocess.Popen([sys.executable, "-c", _BURN]) for _ in range(args.burners)]
    print(f"stress: {args.runs} run(s) of `make test` beside {args.burners} busy process(es)", flush=True)
    try:
        results = [_run("stress tests", [sys.executable, "-m", "pytest", "-q", "-m", "stress"], LOGS / "stress.log")]
        for n in range(1, args.runs + 1):
            results.append(_run(f"run {n}/{args.runs}", ["make", "test"], LOGS / f"run-{n}.log"))
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    print(f"stress: {sum(results)} of {len(results)} passed", flush=True)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
