"""A campaign written straight through the Store API for the read model's tests, and what the read model must say
of it: 30 devices in three deployments, still running or finished, with retries, an anomaly, and a deployment
transition before the campaign itself went Running (so that "started" can only mean the campaign's own).

The expected numbers are worked out by hand here, not by the code under test.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from fuota.core.model import CampaignState, DeploymentState, DeviceProgress, Outcome, Stage
from fuota.core.reasons import Category
from fuota.store import EventKind, NewDeployment, NewEvent, Store
from tests.support.store_helpers import T0, Clock, campaign_settings

NAME = "paths"
MISSING = "missing fragments: 3 of 40"
NEVER_JOINED = "never joined the multicast group"
GONE = "no answer for 600 s, giving up: gateway gone"

Ending = tuple[Stage, Outcome | None, str | None, Category | None]
_WAYS: dict[str, Ending] = {
    "pending": (Stage.PENDING, None, None, None),
    "setup": (Stage.MULTICAST_SETUP, None, None, None),
    "ready": (Stage.MULTICAST_READY, None, None, None),
    "fragmentation": (Stage.FRAGMENTATION_SETUP, None, None, None),
    "receiving": (Stage.RECEIVING, None, None, None),
    "unknown": (Stage.UNKNOWN, None, None, None),
    "updated": (Stage.DONE, Outcome.UPDATED, None, None),
    "missing": (Stage.RECEIVING, Outcome.FAILED, MISSING, Category.TOO_FEW_FRAGMENTS),
    "missing at the end": (Stage.FAILED, Outcome.FAILED, MISSING, Category.TOO_FEW_FRAGMENTS),
    "never joined": (Stage.MULTICAST_SETUP, Outcome.UNREACHABLE, NEVER_JOINED, Category.NEVER_JOINED),
    "gone": (Stage.FAILED, Outcome.FAILED, GONE, Category.DEPLOYMENT_FAILED),
}

# task name → (back end, deployment state, how many devices end each way)
RUNNING = {
    "north": ("iotsquare", DeploymentState.ENQUEUE_FRAGMENT,
              {"receiving": 4, "fragmentation": 3, "ready": 2, "never joined": 1, "pending": 2}),
    "south": ("milesight", DeploymentState.SEND_FRAG_SESS_SETUP, {"ready": 5, "setup": 3, "unknown": 2}),
    "east": ("iotsquare", DeploymentState.DONE, {"updated": 6, "missing at the end": 1, "missing": 1}),
}  # fmt: skip
FINISHED = {
    "north": ("iotsquare", DeploymentState.DONE, {"updated": 9, "missing": 2, "never joined": 1}),
    "south": ("milesight", DeploymentState.FAILED, {"updated": 4, "gone": 6}),
    "east": ("iotsquare", DeploymentState.DONE, {"updated": 7, "missing at the end": 1}),
}
RETRIES = {"north": 3, "south": 1, "east": 0}  # south's one is a malformed answer: an anomaly too

# What each back end last reported of its task (TaskProgress.as_json()), in seconds after T0, and each plan.
# north: IoTSquare in EnqueueFragment since T0 + 40 s (created at T0 + 20 s) until T0 + 440 s: 100 fragments, 4 s
# apart; south: Milesight still setting up, started at T0 + 30 s, 5 s between fragments; east: IoTSquare, done.
PLANS = {
    "north": {"nb_frag": 77, "frag_size": 48, "padding": 0, "redundancy": 23},
    "south": {"nb_frag": 40, "frag_size": 48, "padding": 0, "redundancy": 12},
    "east": {"nb_frag": 62, "frag_size": 48, "padding": 0, "redundancy": 19},
}
FACTS = {
    "north": {"task_started_at": 20, "phase_started_at": 40, "phase_ends_at": 440, "fragments_total": 100},
    "south": {"task_started_at": 30, "phase_started_at": 30, "fragment_interval_s": 5.0},
    "east": {"task_started_at": 20, "phase_started_at": 300, "fragments_total": 81},
}


def facts(task: str) -> dict[str, object]:
    """The progress facts of `task` as the store keeps them."""
    return {k: (T0 + timedelta(seconds=v)).isoformat() if k.endswith("_at") else v for k, v in FACTS[task].items()}


@dataclass(frozen=True)
class Expected:
    """What every read path must show of the sample campaign."""

    counts: dict[str, int]  # per stage, zeros included
    outcomes: dict[str, int]  # per outcome, zeros included
    pending: int
    devices: int
    progress: float
    deployments: dict[str, tuple[float, int]]  # task name → (progress, retries)
    started_at: str
    ended_at: str | None


def euis(task: str, n: int) -> list[str]:
    """The EUIs of a deployment's devices."""
    prefix = {"north": 1, "south": 2, "east": 3}[task]
    return [f"70b3d5e75e{prefix:02x}{i:04x}" for i in range(n)]


def build(store: Store, clock: Clock, *, finished: bool) -> Expected:
    """Write the sample campaign into an empty `store` whose clock is `clock`; what it must read as."""
    plan = FINISHED if finished else RUNNING
    clock.now = T0
    deployments = [
        NewDeployment(backend, f"group-{task}", task, True, euis(task, sum(ends.values())), PLANS[task])
        for task, (backend, _, ends) in plan.items()
    ]
    settings = campaign_settings(NAME, success_threshold=0.9, redundancy_percent=30)
    campaign = store.create_campaign(settings, b"\x07" * 900, deployments)
    ids = {d.task_name: d.id for d in store.deployments(campaign.id)}
    clock.now = T0 + timedelta(seconds=5)  # a deployment's transition first: not the campaign's start
    for deployment_id in ids.values():
        created = NewEvent(EventKind.TRANSITION, "created", "Scheduled", "Created")
        store.apply(deployment_id, state=DeploymentState.CREATED, events=[created])
    clock.now = T0 + timedelta(seconds=10)
    store.set_campaign_state(campaign.id, CampaignState.RUNNING, "north starts")
    for task, count in RETRIES.items():
        for n in range(count):
            clock.now = T0 + timedelta(seconds=100 + 50 * n)
            cause = f"{task} PollTask: no answer within 0.5 s (try {n + 1})"
            store.record_event(campaign.id, NewEvent(EventKind.RETRY, cause), deployment_id=ids[task])
            if task == "south":
                store.record_event(campaign.id, NewEvent(EventKind.ANOMALY, cause), deployment_id=ids[task])
    clock.now = at = T0 + timedelta(seconds=600 if finished else 300)
    stages: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    for task, (_, state, ends) in plan.items():
        endings = [_WAYS[way] for way, n in ends.items() for _ in range(n)]
        members = zip(euis(task, len(endings)), endings, strict=True)
        devices = [
            DeviceProgress(eui, stage, {"step": 1}, outcome, reason, at, category=category)
            for eui, (stage, outcome, reason, category) in members
        ]
        events = [NewEvent(EventKind.DEVICE, "reported", "pending", d.stage.value, d.dev_eui) for d in devices]
        store.apply(ids[task], state=state, events=events, devices=devices, progress=facts(task))
        stages.update(d.stage.value for d in devices)
        outcomes.update(d.outcome.value for d in devices if d.outcome is not None)
    ended = None
    if finished:
        clock.now = T0 + timedelta(seconds=900)
        store.set_campaign_state(campaign.id, CampaignState.FAILED, "20 of 30 devices updated, below 0.9")
        ended = clock.now.isoformat()
    # Worked out by hand from fuota.views.progress's definition, read any time after T0 + 440 s (every read path
    # takes the wall clock's now): north's last fragment went out at T0 + 436 s, but IoTSquare still says
    # EnqueueFragment, and its finishing is the task's to report: 10 + 80 + 10 × 1/12 settled = 90.8; south is in the
    # second of two set-up phases, with no end time given: 10 × 1/2 = 5; east is done: 100. The campaign:
    # (12 × 90.83 + 10 × 5 + 8 × 100) / 30 = 64.7.
    progress = {"north": 90.8, "south": 5.0, "east": 100.0, "": 64.7}
    if finished:
        progress = dict.fromkeys(progress, 100.0)
    devices = sum(stages.values())
    return Expected(
        counts={s.value: stages[s.value] for s in Stage},
        outcomes={o.value: outcomes[o.value] for o in Outcome},
        pending=devices - outcomes.total(),
        devices=devices,
        progress=progress[""],
        deployments={task: (progress[task], RETRIES[task]) for task in plan},
        started_at=(T0 + timedelta(seconds=10)).isoformat(),
        ended_at=ended,
    )
