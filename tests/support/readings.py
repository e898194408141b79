"""The simulators' readings of what the specs leave open, drawn per seed for the fault-storm tests (chaos rounds):
a storm then also meets a server that pages, frames or identifies otherwise than the default simulator does."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from fuota.sim.milesight import Envelope, FirmwareVersions
from fuota.sim.paging import PageCap

CHANNEL_PLANS = ("EU868", "CN470", "US915")
VERSION_READINGS: tuple[Literal["empty", "running", "fixed"], ...] = ("empty", "running", "fixed")


def drawn(seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Keyword arguments for IoTSquareSim and MilesightSim: one reading of each open point, drawn from `seed`."""
    rng = np.random.default_rng([seed, 15])
    iot_cap = [None, PageCap(int(rng.integers(7, 60)), "clamp"), PageCap(int(rng.integers(7, 60)), "cut")]
    ms_cap = [None, PageCap(int(rng.integers(7, 60)))]
    envelopes = [Envelope(), Envelope("absent", numeric_ids=True, typed=True), Envelope("empty", numeric_ids=True)]
    iot = {"page_cap": iot_cap[int(rng.integers(len(iot_cap)))]}
    ms = {"page_cap": ms_cap[int(rng.integers(len(ms_cap)))], "envelope": envelopes[int(rng.integers(len(envelopes)))]}
    # firmwareVersion (issue 15, item 3): the chaos harness's Milesight campaign expects "2.0.0".
    ms["firmware_versions"] = FirmwareVersions(VERSION_READINGS[int(rng.integers(len(VERSION_READINGS)))])
    # A task cap (issue 15, item 5): a gateway holding one task at most refuses a deployment's task created twice
    # (10310013), which fails the round. Drawn last, so that the draws above stay what they were for each seed.
    ms["max_tasks"] = (1, 32)[int(rng.integers(2))]
    # 1008 Query Error on the first polls (issue 15, item 7): up to three in a row are retried, so the round's
    # outcomes stay those of an undisturbed run. Drawn after the others, for the same reason.
    iot["query_errors"] = int(rng.integers(4))
    # channelPlan (issue 15, item 4): the campaign leaves region, dr and frequency to the gateways' plan. Drawn
    # after the others, for the same reason.
    ms["channel_plan"] = CHANNEL_PLANS[int(rng.integers(len(CHANNEL_PLANS)))]
    return iot, ms
