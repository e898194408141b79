"""One cold-start measurement in a fresh process: `python -m benchmarks.cold_child encode|decode [stream]`.

Prints one JSON object: the import times of numpy and codec, the first call (cold), the best of WARM_RUNS later
calls with the parity-row cache cleared before each (warm), and a check of the result. Run by cold_bench, one
process per measurement, so that nothing (imports, numpy's first-call set-up, the allocator's pages, the
parity-row cache) is warm. Inputs are prepared before the clock starts.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable
from typing import Any

WARM_RUNS = 3
MIB = 1 << 20
FRAG_SIZE = 232


def _measure(run: Callable[[], Any], out: dict[str, Any]) -> Any:
    """Time the first call of `run` (cold) and the best of WARM_RUNS more, the parity-row cache cleared each time."""
    import codec.matrix

    start = time.perf_counter()
    result = run()
    out["cold"] = time.perf_counter() - start
    warm = []
    for _ in range(WARM_RUNS):
        codec.matrix.clear_cache()
        start = time.perf_counter()
        run()
        warm.append(time.perf_counter() - start)
    out["warm"] = min(warm)
    return result


def _encode(out: dict[str, Any]) -> None:
    import codec
    from benchmarks.workload import SEED, image, session

    data = image(MIB, SEED)
    _, r = session(MIB, FRAG_SIZE)
    coded = _measure(lambda: codec.encode(data, FRAG_SIZE, r, 1), out)
    out["sha256"] = hashlib.sha256(coded.tobytes()).hexdigest()


def _decode(out: dict[str, Any], stream_path: str) -> None:
    import numpy as np

    import codec
    from benchmarks.workload import SEED, image, padded, session, survivors

    m, r = session(MIB, FRAG_SIZE)
    coded = np.fromfile(stream_path, np.uint8).reshape(m + r, FRAG_SIZE)
    counters = survivors(m + r, np.random.default_rng(SEED + 3)).tolist()
    fragments = [coded[c - 1].tobytes() for c in counters]

    def run() -> tuple[codec.Decoder, int]:
        decoder = codec.Decoder(m, FRAG_SIZE, 1)
        for used, (counter, fragment) in enumerate(zip(counters, fragments, strict=True), 1):
            if decoder.push(counter, fragment):
                return decoder, used
        return decoder, len(counters)

    decoder, used = _measure(run, out)
    out["used"] = used
    out["ok"] = decoder.complete and decoder.result() == padded(image(MIB, SEED + 3), m, FRAG_SIZE)


def main(argv: list[str]) -> int:
    """Measure argv[0] (`encode`, or `decode` of the coded stream in the file argv[1]); print one JSON line."""
    out: dict[str, Any] = {}
    start = time.perf_counter()
    import numpy  # noqa: F401

    out["import_numpy"] = time.perf_counter() - start
    start = time.perf_counter()
    # The numpy parts of codec load on their first use: imported here, so that "cold" times the first call alone.
    from codec import Decoder, decodable, encode, parity_matrix  # noqa: F401

    out["import_codec"] = time.perf_counter() - start
    if argv[:1] == ["encode"]:
        _encode(out)
    elif argv[:1] == ["decode"] and len(argv) == 2:
        _decode(out, argv[1])
    else:
        print(f"usage: python -m benchmarks.cold_child encode|decode STREAM, not {argv}", file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
