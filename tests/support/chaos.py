"""The crash-consistency harness: campaigns on both simulators under `fuota daemon`, the daemon killed with SIGKILL
at random moments and restarted, each round checked against an uninterrupted run with the same seed.

Some kills fall between a create call and its answer: the harness wraps the simulators' answer functions so that,
once the simulator has created the task, the daemon dies before the answer leaves. Restarts alternate between the
same daemon name (it takes its deployments back at once) and a new one (it waits for the dead one's leases to
expire, then takes them over).

Checked every round:
- outcomes: every device ends with the same outcome and reason as in the uninterrupted run;
- creates: the simulators saw exactly one task create and one group create per deployment;
- the event log: each deployment's and each campaign's transitions chain, without a gap, from Scheduled to the
  final state.

`make chaos` runs rounds until at least --kills kills (default 24) and prints the figures;
tests/integration/test_chaos.py runs one small round in `make test`. Usage, from the repository's root:
python -m tests.support.chaos [--kills N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fuota.sim.iotsquare import IoTSquareSim, fleet_euis
from fuota.sim.milesight import Call, MilesightSim, gateway_euis
from fuota.sim.milesight_tasks import Timing
from fuota.store import EventKind, Store
from tests.support.broker import Broker
from tests.support.cli_helpers import fuota
from tests.support.config_files import (
    iotsquare,
    milesight,
    sqlite_url,
    write_campaign,
    write_config,
    write_milesight_campaign,
)
from tests.support.daemons import Daemon, kill_daemon, start_daemon, stop_daemon
from tests.support.readings import drawn
from tests.support.waiting import wait_for

FIRMWARE_SIZE = 2000
TIMING = Timing(multicast_setup=10, fragment_setup=5, status_report=5, upgrade=5)
Outcomes = dict[str, dict[str, tuple[str | None, str | None]]]  # campaign → device → (outcome, reason)


@dataclass
class Figures:
    """What a harness run did and found."""

    rounds: int = 0
    kills: int = 0
    kills_in_create: int = 0
    campaigns: int = 0
    deployments: int = 0
    devices: int = 0
    creates: int = 0
    outcomes_identical: bool = True
    gaps: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        """The figures, one per line."""
        per = self.creates / self.deployments if self.deployments else 0
        return [
            f"rounds {self.rounds}, kills {self.kills} (between a create and its answer: {self.kills_in_create})",
            f"campaigns {self.campaigns}, deployments {self.deployments}, devices {self.devices}",
            f"task creates per deployment {per:g} ({self.creates} creates)",
            f"outcomes identical to the uninterrupted run: {'yes' if self.outcomes_identical else 'NO'}",
            f"event-log gaps: {len(self.gaps)}",
            f"{self.seconds:.0f} s",
        ]


class World:
    """One run's simulators, configuration and campaigns (an IoTSquare one and a Milesight one) in a folder."""

    def __init__(self, folder: Path, seed: int, broker: Broker, *, iot_devices: int, ms_devices: int) -> None:
        self.folder, self.seed = folder, seed
        folder.mkdir(parents=True, exist_ok=True)
        self.firmware = np.random.default_rng(seed).bytes(FIRMWARE_SIZE)
        iot = fleet_euis(iot_devices, seed=seed)
        ms = fleet_euis(ms_devices, seed=seed + 1)
        gateways = gateway_euis(2, seed=seed)
        topics = {"request_topic": f"{folder.name}/req", "response_topic": f"{folder.name}/resp"}
        iot_reading, ms_reading = drawn(seed)  # the same for the calm and the stormy world of a round
        self.iot = IoTSquareSim(
            devices=iot, loss=0.03, speed=8, join_delay=5, phase_time=3, fragment_interval=2, seed=seed, **iot_reading
        )
        spread = {g: ms[i :: len(gateways)] for i, g in enumerate(gateways)}
        self.ms = MilesightSim(
            broker.url, spread, loss=0.03, speed=12, timing=TIMING, seed=seed, **topics, **ms_reading
        )
        self.readings = (iot_reading, ms_reading)
        self.iot.start()
        self.ms.start()
        self.gateways = gateways
        self.on_create: Callable[[], None] | None = None
        self._wrap_creates()
        write_config(
            folder,
            iotsquare(self.iot.url, poll_interval=0.3, give_up_after=120),
            milesight(broker.url, gateways, poll_interval=0.3, give_up_after=120, **topics),
        )
        write_campaign(folder, f"iot-{seed}", iot, firmware=self.firmware, join_timeout=20, file="iot.toml")
        write_milesight_campaign(folder, f"ms-{seed}", ms, file="ms.toml", milesight={"expected_version": "2.0.0"})
        self._launch("iot")
        self._launch("ms")
        self.names = [f"iot-{seed}", f"ms-{seed}"]

    def _launch(self, backend: str) -> None:
        result = fuota(self.folder, "launch", f"{backend}.toml")
        if result.returncode != 0:
            raise RuntimeError(f"launch {backend}: {result.stderr[-2000:]}")

    def _wrap_creates(self) -> None:
        # After the simulator created the task, before its answer leaves: the moment a daemon must survive.
        answer_http, answer_mqtt = self.iot.answer, self.ms._answers

        def http(method: str, target: str, headers: object, raw: bytes) -> tuple[int, dict]:
            result = answer_http(method, target, headers, raw)
            if target.startswith("/openapi/fuota/create") and self.on_create is not None:
                self.on_create()
            return result

        def mqtt(payload: bytes) -> list[dict[str, object]]:
            answers = answer_mqtt(payload)
            try:
                request = json.loads(payload)
            except ValueError:
                return answers
            create = isinstance(request, dict) and (request.get("method"), request.get("url")) == (
                "POST",
                "/api/fuota/task",
            )
            if create and answers and self.on_create is not None:
                self.on_create()
            return answers

        self.iot.answer = http  # type: ignore[method-assign]
        self.ms._answers = mqtt  # type: ignore[method-assign]

    def ended(self) -> bool:
        """True once both campaigns ended."""
        with Store(self.url) as store:
            return all((c := store.campaign(name)) is not None and c.state.ended for name in self.names)

    @property
    def url(self) -> str:
        return sqlite_url(self.folder)

    def outcomes(self) -> Outcomes:
        """Every device's outcome and reason, by campaign."""
        with Store(self.url) as store:
            return {
                name: {d.dev_eui: (d.outcome, d.reason) for d in store.devices(store.campaign(name).id)}
                for name in self.names
            }

    def creates(self) -> tuple[int, int]:
        """(tasks the simulators were asked to create, deployments in the store). A group create that finds the
        group made by an earlier attempt is a look-up, not a second group, so only task creates count."""
        ms_calls = self.ms.calls
        tasks = self.iot.calls["fuota/create"] + sum(
            ms_calls[Call(g.upper(), "POST", "/api/fuota/task")] + ms_calls[Call(g, "POST", "/api/fuota/task")]
            for g in self.gateways
        )
        with Store(self.url) as store:
            deployments = sum(len(store.deployments(store.campaign(name).id)) for name in self.names)
        return tasks, deployments

    def gaps(self) -> list[str]:
        """Every break in a transition chain: a deployment or campaign whose recorded moves do not lead, one
        after the other, from Scheduled to its current state."""
        found = []
        with Store(self.url) as store:
            for name in self.names:
                campaign = store.campaign(name)
                events = [e for e in store.events(campaign.id) if e.kind == EventKind.TRANSITION]
                chains = {None: (f"campaign {name}", campaign.state)}
                chains |= {d.id: (d.task_name, d.state) for d in store.deployments(campaign.id)}
                for key, (label, final) in chains.items():
                    state = "Scheduled"
                    for event in (e for e in events if e.deployment_id == key):
                        if event.from_state != state:
                            found.append(f"{label}: {event.from_state} → {event.to_state} after {state}")
                        state = event.to_state
                    if state != final:
                        found.append(f"{label}: the log ends at {state}, the store says {final}")
        return found

    def close(self) -> None:
        self.iot.stop()
        self.ms.stop()


class Killer:
    """Runs the daemon of one world, killing it at random moments (and in creates, when armed) and restarting it."""

    def __init__(self, world: World, rng: np.random.Generator, kills: int, in_create: int) -> None:
        self.world, self.rng, self.wanted, self.in_create_wanted = world, rng, kills, in_create
        self.kills = self.in_create = 0
        self._lock = threading.Lock()
        self._daemon = self._start()
        world.on_create = self._kill_in_create

    def _start(self) -> Daemon:
        # Even restarts reuse the name (back at once); odd ones come as a new daemon that waits out the leases.
        name = "chaos" if self.kills % 2 == 0 else f"chaos-{self.kills}"
        return start_daemon(self.world.folder, name=name, lease_seconds=2)

    def _kill_in_create(self) -> None:
        with self._lock:
            if self.in_create < self.in_create_wanted and self._daemon.poll() is None:
                kill_daemon(self._daemon)
                self.kills += 1
                self.in_create += 1

    def drive(self, timeout: float) -> None:
        """Until both campaigns ended: restart a dead daemon, kill a live one after a random while."""
        born = time.monotonic()
        life = self.rng.uniform(0.4, 2.5)

        def step() -> bool:
            nonlocal born, life
            if self.world.ended():
                return True
            with self._lock:
                if self._daemon.poll() is not None:
                    self._daemon = self._start()
                    born, life = time.monotonic(), self.rng.uniform(0.4, 2.5)
                elif self.kills < self.wanted and time.monotonic() - born > life:
                    kill_daemon(self._daemon)
                    self.kills += 1
            return False

        wait_for(step, timeout, f"{self.world.names} ending under kills", every=0.05)
        with self._lock:
            self.world.on_create = None
            stop_daemon(self._daemon)


def run_round(
    base: Path,
    seed: int,
    broker: Broker,
    kills: int,
    in_create: int,
    figures: Figures,
    *,
    iot_devices: int = 300,
    ms_devices: int = 80,
    timeout: float = 300,
) -> None:
    """One round: the same campaigns run undisturbed and under kills, side by side; figures updated."""
    began = time.monotonic()
    sizes = {"iot_devices": iot_devices, "ms_devices": ms_devices}
    calm = World(base / f"calm-{seed}", seed, broker, **sizes)
    stormy = World(base / f"chaos-{seed}", seed, broker, **sizes)
    try:
        reference = start_daemon(calm.folder, name="calm")
        killer = Killer(stormy, np.random.default_rng(seed), kills, in_create)
        killer.drive(timeout)
        wait_for(calm.ended, timeout, f"{calm.names} ending undisturbed", every=0.2)
        stop_daemon(reference)
        expected, got = calm.outcomes(), stormy.outcomes()
        creates, deployments = stormy.creates()
        figures.rounds += 1
        figures.kills += killer.kills
        figures.kills_in_create += killer.in_create
        figures.campaigns += len(stormy.names)
        figures.deployments += deployments
        figures.creates += creates
        figures.devices += sum(len(d) for d in got.values())
        figures.outcomes_identical &= got == expected
        figures.gaps += stormy.gaps()
        figures.seconds += time.monotonic() - began
    finally:
        calm.close()
        stormy.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=24, help="kill the daemon at least this often (default 24)")
    parser.add_argument("--seed", type=int, default=1, help="the first round's seed")
    args = parser.parse_args()
    figures = Figures()
    with tempfile.TemporaryDirectory(prefix="fuota-chaos-") as tmp:
        broker = Broker(Path(tmp)).start()
        try:
            seed = args.seed
            while figures.kills < args.kills:
                run_round(Path(tmp), seed, broker, kills=8, in_create=2, figures=figures)
                print(f"round {figures.rounds}: {figures.kills} kills so far", flush=True)
                seed += 1
        finally:
            broker.stop()
    print("\n".join(figures.lines()))
    ok = figures.outcomes_identical and not figures.gaps and figures.creates == figures.deployments
    for gap in figures.gaps:
        print(f"gap: {gap}")
    print("chaos: PASSED" if ok else "chaos: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
