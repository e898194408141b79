"""`python -m benchmarks` (make bench): every figure, its plain-reference baseline, the issue's target, checks."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from benchmarks import bench_fleet, bench_reads, plan_scale
from benchmarks.cold_bench import cold_decode, cold_encode
from benchmarks.decode_bench import decodable_patterns, decode_1mib, fleet
from benchmarks.encode_bench import encode_48, encode_232
from benchmarks.plan_bench import plan_command
from benchmarks.planning_bench import planner_sweep
from benchmarks.report import Figure, machine, progress, table
from benchmarks.workload import load_oracle


def main() -> int:
    """Run every benchmark, print the table; exit status 1 if any result is wrong (a missed target is not)."""
    start = time.perf_counter()
    print(f"fuota TS004 codec benchmarks — {machine()}", flush=True)
    print(
        "30 % redundancy (R = ceil(0.3·M)) and 10 % loss throughout; encode and decode include parity-row "
        "generation.\nfuota = best of n runs; plain = tests/support/oracle.py in this run; × = plain / fuota; "
        "check = results compared with the plain reference or the image",
        flush=True,
    )
    oracle = load_oracle()
    steps: list[tuple[str, Callable[[], Figure | list[Figure]]]] = [
        ("encode 1 MiB / 232 B / 30 %, v1 (plain reference in full)", lambda: encode_232(oracle, 1)),
        ("encode 1 MiB / 232 B / 30 %, v2 (plain reference in full)", lambda: encode_232(oracle, 2)),
        (
            "cold encode 1 MiB / 232 B / 30 %, v1: a fresh process per run (plain reference in full)",
            lambda: cold_encode(oracle),
        ),
        ("cold decode 1 MiB / 232 B / 30 %, 10 % lost: a fresh process per run", lambda: cold_decode(oracle)),
        ("encode 1 MiB / 48 B / 30 %, v1", lambda: encode_48(oracle)),
        ("decode 1 MiB / 232 B / 30 %, 10 % lost, push one by one", lambda: decode_1mib(oracle)),
        ("decodable() on 10 000 loss patterns, M 287, R 86", lambda: decodable_patterns(oracle)),
        ("fleet of 1 000 devices decoding 100 000 B / 48 B / 30 %", lambda: fleet(oracle)),
        ("planner sweep: 10 redundancies × 5 loss rates × 2 000 trials, M 287", lambda: planner_sweep(oracle)),
        ("fuota plan, 300 devices on the IoTSquare simulator, 13 737 B", lambda: plan_command(13737)),
        ("fuota plan --target 0.95 --loss 0.25, 13 737 B", lambda: plan_command(13737, 0.95, 0.25)),
        ("fuota plan, 300 devices, 100 000 B", lambda: plan_command(100_000)),
        ("fuota plan --target 0.95 --loss 0.25, 100 000 B", lambda: plan_command(100_000, 0.95, 0.25)),
    ]
    figures: list[Figure] = []
    for step, (text, run) in enumerate(steps, 1):
        progress(step, len(steps), text)
        result = run()
        figures.extend(result if isinstance(result, list) else [result])
    print()
    print(table(figures))
    # Fleet scale (issue 16, item 5): the read paths at 1 000 to 100 000 devices, and plan --offline.
    print("\nreads at fleet scale (benchmarks/bench_reads.py) …", flush=True)
    print(bench_reads.table(bench_reads.measure()))
    print("\nplan --offline (benchmarks/plan_scale.py) …", flush=True)
    print(plan_scale.table(plan_scale.measure()))
    print(f"\nthe daemon at {bench_fleet.FLEET} devices (benchmarks/bench_fleet.py) …", flush=True)
    print(bench_fleet.table(bench_fleet.measure()))
    print(f"\ntotal {time.perf_counter() - start:.0f} s", flush=True)
    return 0 if all(f.ok for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
