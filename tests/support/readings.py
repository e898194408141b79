"""The simulators' readings of what the specs leave open, drawn per seed for the fault-storm tests (chaos rounds):
a storm then also meets a server that pages, frames or identifies otherwise than the default simulator does."""

from __future__ import annotations

from typing import Any

import numpy as np

from fuota.sim.milesight import Envelope
from fuota.sim.paging import PageCap


def drawn(seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Keyword arguments for IoTSquareSim and MilesightSim: one reading of each open point, drawn from `seed`."""
    rng = np.random.default_rng([seed, 15])
    iot_cap = [None, PageCap(int(rng.integers(7, 60)), "clamp"), PageCap(int(rng.integers(7, 60)), "cut")]
    ms_cap = [None, PageCap(int(rng.integers(7, 60)))]
    envelopes = [Envelope(), Envelope("absent", numeric_ids=True, typed=True), Envelope("empty", numeric_ids=True)]
    return (
        {"page_cap": iot_cap[int(rng.integers(len(iot_cap)))]},
        {"page_cap": ms_cap[int(rng.integers(len(ms_cap)))], "envelope": envelopes[int(rng.integers(len(envelopes)))]},
    )
