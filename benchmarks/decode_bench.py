"""Decoder figures: one device on 1 MiB, decodable() over many loss patterns, and a fleet of decoding devices."""

from __future__ import annotations

from types import ModuleType

import numpy as np

import codec
import codec.matrix
from benchmarks.report import Figure
from benchmarks.timing import best_of, once
from benchmarks.workload import SEED, image, loss_patterns, padded, session, survivors

MIB = 1 << 20
REPEAT = 5
PATTERNS = 10_000
PLAIN_PATTERNS = 2_000  # the plain recoverable() takes about 2 ms a pattern
DEVICES = 1_000
FLEET_REPEAT = 2
PLAIN_DEVICES = 20  # the plain solve() takes about 0.3 s a device


def decode_1mib(oracle: ModuleType) -> Figure:
    """One Decoder fed 1 MiB / 232 B / 30 % with 10 % lost, fragment by fragment in counter order.

    The plain reference solves the same fragments the codec consumed before it completed.
    """
    data = image(MIB, SEED + 3)
    m, r = session(MIB, 232)
    coded = codec.encode(data, 232, r)
    counters = survivors(m + r, np.random.default_rng(SEED + 3)).tolist()
    fragments = [coded[c - 1].tobytes() for c in counters]
    expected = padded(data, m, 232)

    def run() -> tuple[codec.Decoder, int]:
        decoder = codec.Decoder(m, 232, 1)
        for used, (counter, fragment) in enumerate(zip(counters, fragments, strict=True), 1):
            if decoder.push(counter, fragment):
                return decoder, used
        return decoder, len(counters)

    # A device generates its own parity rows, so every run starts without any.
    seconds, (decoder, used) = best_of(run, REPEAT, setup=codec.matrix.clear_cache)
    ok = decoder.complete and decoder.result() == expected
    given = dict(zip(counters[:used], fragments[:used], strict=True))
    plain_seconds, plain = once(lambda: oracle.solve(m, 232, given, 1))
    return Figure(
        name="decode 1 MiB/232 B",
        fuota=seconds,
        runs=REPEAT,
        plain=plain_seconds,
        plain_note=f"the same {used} fragments",
        target=0.030,
        reference="LoRaMac-node 0.32 s",
        ok=ok and plain == expected,
        check_note="= image",
    )


def decodable_patterns(oracle: ModuleType) -> Figure:
    """decodable() on PATTERNS loss patterns of M = 287, R = 86, each losing its own 10 %.

    The plain recoverable() runs on the first PLAIN_PATTERNS, scaled by patterns; verdicts must agree there.
    """
    m, r = 287, 86
    received = loss_patterns(PATTERNS, m + r, np.random.default_rng(SEED + 4))
    seconds, verdicts = best_of(lambda: codec.decodable(m, r, received, 1), REPEAT, setup=codec.matrix.clear_cache)
    subset = received[:PLAIN_PATTERNS].tolist()
    plain_seconds, plain = once(lambda: [oracle.recoverable(m, r, row, 1) for row in subset])
    ok = verdicts.shape == (PATTERNS,) and verdicts[:PLAIN_PATTERNS].tolist() == plain
    return Figure(
        name=f"decodable {PATTERNS} patterns, M {m}",
        fuota=seconds,
        runs=REPEAT,
        plain=plain_seconds * PATTERNS / PLAIN_PATTERNS,
        plain_note=f"{PLAIN_PATTERNS}/{PATTERNS} patterns, scaled",
        target=0.5,
        reference="",
        ok=ok,
        check_note=f"{PLAIN_PATTERNS} agree; {int(verdicts.sum())} decodable",
    )


def fleet(oracle: ModuleType) -> Figure:
    """DEVICES devices, each losing its own 10 % of 100 000 B / 48 B / 30 % and really decoding with its own Decoder.

    Timed per device: gathering its fragments, push_many, comparing its result with the image. The parity-row
    cache starts empty and is then shared, as in a simulator. The plain solve() runs on the first PLAIN_DEVICES.
    """
    size, frag_size = 100_000, 48
    data = image(size, SEED + 5)
    m, r = session(size, frag_size)
    assert (m, r) == (2084, 626)
    coded = codec.encode(data, frag_size, r)
    rng = np.random.default_rng(SEED + 5)
    received = [survivors(m + r, rng) for _ in range(DEVICES)]
    expected = padded(data, m, frag_size)

    def run() -> int:
        decoded = 0
        for counters in received:
            decoder = codec.Decoder(m, frag_size, 1)
            decoder.push_many(counters, coded[counters - 1])
            decoded += decoder.complete and decoder.result() == expected
        return decoded

    seconds, decoded = best_of(run, FLEET_REPEAT, setup=codec.matrix.clear_cache)
    given = [{c: coded[c - 1].tobytes() for c in counters.tolist()} for counters in received[:PLAIN_DEVICES]]
    plain_seconds, plain = once(lambda: [oracle.solve(m, frag_size, fragments, 1) for fragments in given])
    ok = decoded == DEVICES and all(result == expected for result in plain)
    return Figure(
        name=f"fleet {DEVICES} × 100 000 B/48 B",
        fuota=seconds,
        runs=FLEET_REPEAT,
        plain=plain_seconds * DEVICES / PLAIN_DEVICES,
        plain_note=f"{PLAIN_DEVICES}/{DEVICES} devices, scaled",
        target=5.0,
        reference="LoRaMac-node ≈ 50 s",
        ok=ok,
        check_note=f"{decoded} decoded",
    )
