"""`make demo`: one firmware image through the TS004 codec over a lossy channel, verified at the end.

Encodes an image, loses a share of the fragments at random, feeds the rest to one device's decoder in order,
and checks that what the device rebuilt is the image. It grows into the campaign demo in later work.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import numpy as np

import codec


@dataclass(frozen=True)
class DemoResult:
    """What one demo run measured."""

    plan: codec.FragPlan
    lost_uncoded: int
    lost_coded: int
    completed_at: int | None
    encode_s: float
    decode_s: float
    verified: bool
    sha256: str


def run(
    size: int = 100_000, frag_size: int = 232, percent: float = 30, loss: float = 0.10, version: int = 1, seed: int = 1
) -> DemoResult:
    """Encode a `size`-byte image, drop `loss` of the fragments, decode the rest and verify."""
    rng = np.random.default_rng(seed)
    image = rng.bytes(size)
    plan = codec.plan(size, frag_size, percent=percent, version=version)
    started = time.perf_counter()
    stream = codec.encode(image, plan.frag_size, plan.redundancy, plan.version)
    encode_s = time.perf_counter() - started
    dropped = rng.choice(plan.total, round(loss * plan.total), replace=False) + 1
    kept = np.setdiff1d(np.arange(1, plan.total + 1), dropped)
    fragments = [stream[n - 1].tobytes() for n in kept.tolist()]
    decoder = codec.Decoder(plan.nb_frag, plan.frag_size, plan.version)
    completed_at = None
    started = time.perf_counter()
    for counter, fragment in zip(kept.tolist(), fragments, strict=True):
        if decoder.push(counter, fragment):
            completed_at = counter
            break
    decode_s = time.perf_counter() - started
    verified = decoder.complete and decoder.result()[:size] == image
    return DemoResult(
        plan,
        int((dropped <= plan.nb_frag).sum()),
        int((dropped > plan.nb_frag).sum()),
        completed_at,
        encode_s,
        decode_s,
        verified,
        hashlib.sha256(image).hexdigest(),
    )


def report(result: DemoResult) -> str:
    """The demo's figures as text for a terminal."""
    p = result.plan
    lines = [
        f"plan        {p.size} B in {p.nb_frag} fragments of {p.frag_size} B (padding {p.padding} B), "
        f"{p.redundancy} coded ({100 * p.redundancy / p.nb_frag:.1f} %), TS004 v{p.version}.0.0, "
        f"counters 1..{p.total}",
        f"encode      {result.encode_s * 1e3:.1f} ms",
        f"channel     lost {result.lost_uncoded} uncoded and {result.lost_coded} coded fragments "
        f"({result.lost_uncoded + result.lost_coded} of {p.total})",
    ]
    if result.completed_at is None:
        lines.append("decode      INCOMPLETE: the coded fragments received cannot recover the lost ones")
    else:
        lines.append(
            f"decode      complete at counter {result.completed_at} of {p.total} in {result.decode_s * 1e3:.1f} ms"
        )
    if result.verified:
        verdict = "OK: the rebuilt image is byte-identical"
    elif result.completed_at is None:
        verdict = "FAILED: not rebuilt; more redundancy or less loss is needed"
    else:
        verdict = "FAILED: the rebuilt image differs"
    lines.append(f"verify      {verdict} (sha256 {result.sha256[:16]}…)")
    return "\n".join(lines)
