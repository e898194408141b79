"""The progress model: how far each deployment and campaign is, how many fragments went out, and the time left.

Every front end reads these numbers through fuota.views.model (status, list, watch, run's live view, report, the
dashboard, /metrics). They come from the progress facts the back end last reported (deployments.progress, a
fuota.core.reports.TaskProgress), the deployment's state and plan (nb_frag + redundancy), its devices, and `now`:
nothing here reads the clock. The task's timeline, in the states of IoTSquare's section 9.2 onto which Milesight's
statuses map too:

    set-up      Created, SendFragSessSetup                     (Milesight: 0 pending, 1 waiting)
    fragments   EnqueueFragment, until its last fragment        (Milesight: 2 executing, until its last fragment)
    finishing   SendFragSessStatus, SendFragSessDel, Cleanup    (Milesight: the rest of 2 executing)

The facts, each defined here only:

    phase              waiting (no task yet), setup, fragments, finishing, ended; of a campaign, the earliest
                       phase of its deployments that have not ended
    fragments_total    the back end's count where it gives one (IoTSquare nbFrag + redundancy), else the plan's
    fragment interval  the back end's where it gives one (Milesight fragmentInterval); else, while the fragments go
                       out, their phase's length over fragments_total (IoTSquare updatetime → nextStepTime); else
                       the rate observed on another deployment of the campaign; else the plan's pacing (the kind's
                       pacing() through fuota.planning.forecast.pace)
    fragments start    while in EnqueueFragment: when the task entered it (IoTSquare updatetime, Milesight
                       updatedAt, the time of its latest change of status)
    fragments end      the back end's end of the phase where it gives one (IoTSquare nextStepTime), else fragments
                       start + fragments_total × interval
    fragments_sent     the back end's count where it gives one; else, in the fragments phase, those due by `now`
                       (fragment n leaves at fragments start + (n − 1) × interval), at most fragments_total; 0
                       before, fragments_total after and once Done; None for a task aborted or failed (or Unknown),
                       whose state no longer says where its fragments were
    overhead           what the task spends besides fragments on each side: the set-up this task took (fragments
                       start − task start: IoTSquare createtime, Milesight startedAt) once seen, else the length of
                       the back end's current set-up phase × 2 (IoTSquare), else half of the plan's SETUP_SECONDS;
                       the finishing is expected to last as long as the set-up took
    settled            devices with an outcome
    progress           percent, rounded to 0.1: set-up weighs 10 (its phases in turn, each by the share of its
                       time gone where the back end gives its end), fragments 80 (× sent / total), finishing 10
                       (× the larger of the settled share and the share of its phases gone — or of its time, where
                       the task does not report its finishing phases (Milesight) — at most 0.99);
                       100 once the deployment ended. A campaign's is its deployments' mean weighted by devices,
                       100 once it ended. It never goes backwards while the task moves forward: each part is
                       capped below the next one's start.
    time_left_seconds  where the back end gives the end of its current phase: that end − now, plus the phases
                       after it (each as long as the current one in the finishing, the fragments and the
                       overhead after the set-up); else fragments end + overhead − now; before the task exists,
                       the plan's whole duration (interval × fragments_total + twice the overhead). Never below 0;
                       0 once ended; None when the interval cannot be known. A campaign's is the longest of its
                       open deployments' (None if one of them cannot tell), plus the wait until its start.
    ends_at            now + time_left_seconds; of an ended campaign or deployment, its end
    updated_share      (campaign) updated devices / judged devices (fuota.core.outcomes.judged: aborted and skipped
                       ones left out): what an ended campaign shows instead of its 100 %
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from fuota.backends.registry import kind_of
from fuota.core.model import DeploymentState
from fuota.core.reports import TaskProgress
from fuota.core.settings import CampaignSettings
from fuota.planning.pacing import SETUP_SECONDS, pace

__all__ = [
    "PHASES",
    "campaign_progress",
    "deployment_progress",
    "finishing_by_time",
    "observed_interval",
    "planned_interval",
]

PHASES = ("waiting", "setup", "fragments", "finishing", "ended")
_SETUP = (DeploymentState.CREATED, DeploymentState.SEND_FRAG_SESS_SETUP)
_FINISHING = (DeploymentState.SEND_FRAG_SESS_STATUS, DeploymentState.SEND_FRAG_SESS_DEL, DeploymentState.CLEANUP)
_W_SETUP, _W_FRAGMENTS, _W_FINISHING = 10.0, 80.0, 10.0
_BELOW_ONE = 0.99  # a part never reaches the next one's start before the back end says it has
_OVERHEAD = SETUP_SECONDS / 2  # each side of the fragments, until the task shows its own


def planned_interval(settings: CampaignSettings, plan: Mapping[str, Any] | None) -> float | None:
    """Seconds between two fragments as the plan paces them (the kind's pacing(), fuota.planning.pacing.pace, for
    the plan's frag_size); None where it cannot be told (no plan, an unknown kind, region or data rate)."""
    try:
        frag_size = int((plan or {})["frag_size"])
        pacing = kind_of(settings.kind).pacing(dict(settings.target))
        return pace(frag_size, pacing.region, pacing.dr, pacing.interval_ms).interval_ms / 1000
    except (KeyError, TypeError, ValueError):  # pydantic's ValidationError is a ValueError
        return None


def finishing_by_time(kind: str) -> bool:
    """Whether deployments of back-end kind `kind` are timed through their finishing (BackendKind.reports_finishing
    False); False for a kind fuota no longer knows."""
    try:
        return not kind_of(kind).reports_finishing
    except ValueError:  # ConfigError: an unknown kind
        return False


def observed_interval(state: DeploymentState, facts: TaskProgress, total: int | None) -> float | None:
    """Seconds between two fragments as the back end says or shows them: its own interval, else the fragments
    phase's length over the fragments (IoTSquare); None when it tells neither."""
    if facts.fragment_interval_s:
        return facts.fragment_interval_s
    start, end = facts.phase_started_at, facts.phase_ends_at
    if state is DeploymentState.ENQUEUE_FRAGMENT and start and end and total and end > start:
        return (end - start).total_seconds() / total
    return None


def deployment_progress(
    state: DeploymentState,
    plan: Mapping[str, Any] | None,
    facts: TaskProgress,
    *,
    devices: int,
    settled: int,
    interval: float | None,
    now: datetime,
    changed_at: datetime,
    finishing_by_time: bool = False,
) -> dict[str, Any]:
    """The progress keys of one deployment at `now` (see the module docstring): phase, fragments_sent,
    fragments_total, fragment_interval_s, settled, progress, time_left_seconds, ends_at. `interval` is the
    fallback interval (observed on a sibling, else planned); `changed_at` is when the deployment last changed (an
    ended one's end); `finishing_by_time` where the back end's task does not report its finishing phases
    (BackendKind.reports_finishing)."""
    total = facts.fragments_total or _planned_total(plan)
    interval = observed_interval(state, facts, total) or interval
    task = _Task(state, facts, total, interval, finishing_by_time)
    sent = task.sent(now)
    share = settled / devices if devices else 0.0
    if state.ended:
        phase, percent, left = "ended", 100.0, 0.0
    elif state is DeploymentState.SCHEDULED:
        phase, percent, left = "waiting", 0.0, task.whole()
    elif state in _SETUP:
        phase, percent, left = "setup", task.setup_percent(now), task.setup_left(now)
    elif state in _FINISHING:
        phase, percent, left = "finishing", task.finishing_percent(now, share), task.finishing_left(now)
    else:  # EnqueueFragment, or a state the back end calls Unknown: counted as in the fragments
        phase, percent, left = task.fragments(now, sent, share)
    return {
        "phase": phase,
        "fragments_sent": sent,
        "fragments_total": total,
        "fragment_interval_s": None if interval is None else round(interval, 3),
        "settled": settled,
        "progress": round(percent, 1),
        "time_left_seconds": None if left is None else round(max(left, 0.0), 1),
        "ends_at": _iso(changed_at) if state.ended else None if left is None else _iso(now + _seconds(left)),
    }


def campaign_progress(
    deployments: Iterable[Mapping[str, Any]],
    *,
    ended: bool,
    ended_at: datetime | None,
    start: datetime | None,
    updated: int,
    judged: int,
    now: datetime,
) -> dict[str, Any]:
    """The progress keys of a campaign from its deployments' (each with `devices` and deployment_progress's keys):
    phase, fragments_sent, fragments_total, settled, progress, time_left_seconds, ends_at, updated_share (of the
    `judged` devices)."""
    rows = list(deployments)
    open_rows = [d for d in rows if d["phase"] != "ended"]
    weights = [max(int(d["devices"]), 1) for d in rows]
    percent = sum(w * d["progress"] for w, d in zip(weights, rows, strict=True)) / sum(weights) if rows else 0.0
    lefts = [d["time_left_seconds"] for d in open_rows]
    left: float | None
    if ended:
        left, percent, phase = 0.0, 100.0, "ended"
    else:
        left = None if not rows or None in lefts else max(lefts, default=0.0)
        if left is not None and start is not None and start > now:
            left += (start - now).total_seconds()
        phase = min((d["phase"] for d in open_rows), key=PHASES.index, default="waiting")
    return {
        "phase": phase,
        "fragments_sent": _sum(d["fragments_sent"] for d in rows),
        "fragments_total": _sum(d["fragments_total"] for d in rows),
        "settled": sum(int(d["settled"]) for d in rows),
        "progress": round(percent, 1),
        "time_left_seconds": None if left is None else round(left, 1),
        "ends_at": _iso(ended_at) if ended else None if left is None else _iso(now + _seconds(left)),
        "updated_share": updated / judged if judged else 0.0,
    }


class _Task:
    """One task's timeline from its facts: the arithmetic of the module docstring."""

    def __init__(
        self,
        state: DeploymentState,
        facts: TaskProgress,
        total: int | None,
        interval: float | None,
        finishing_by_time: bool,
    ) -> None:
        self.state, self.facts, self.total, self.interval = state, facts, total, interval
        self.finishing_by_time = finishing_by_time
        start, end = facts.phase_started_at, facts.phase_ends_at
        self.phase_length = (end - start).total_seconds() if start and end and end > start else None
        enqueue = state is DeploymentState.ENQUEUE_FRAGMENT
        self.fragments_start = start if enqueue else None
        self.overhead = _OVERHEAD
        begun = facts.task_started_at
        if enqueue and start is not None and begun is not None and start >= begun:
            self.overhead = (start - begun).total_seconds()
        elif state in _SETUP and self.phase_length is not None:
            self.overhead = self.phase_length * len(_SETUP)
        self.send_time = None if total is None or interval is None else total * interval

    def fragments_end(self) -> datetime | None:
        if self.facts.phase_ends_at is not None and self.fragments_start is not None:
            return self.facts.phase_ends_at
        if self.fragments_start is None or self.send_time is None:
            return None
        return self.fragments_start + _seconds(self.send_time)

    def sent(self, at: datetime) -> int | None:
        if self.facts.fragments_sent is not None:
            return self.facts.fragments_sent
        if self.state in (DeploymentState.SCHEDULED, *_SETUP):
            return 0
        if self.state in _FINISHING or self.state is DeploymentState.DONE:
            return self.total
        start, end = self.fragments_start, self.fragments_end()
        if start is None or self.total is None or end is None:
            return None  # aborted, failed or Unknown without the fragments' timeline
        if at < start:
            return 0
        step = (end - start).total_seconds() / self.total if self.total else 0.0
        due = self.total if step <= 0 else math.floor((at - start).total_seconds() / step) + 1
        return min(due, self.total)

    def whole(self) -> float | None:
        return None if self.send_time is None else self.send_time + 2 * self.overhead

    def _within(self, now: datetime) -> float:
        """The share of the current phase's time gone, where the back end says when it began and ends."""
        start = self.facts.phase_started_at
        if start is None or self.phase_length is None:
            return 0.0
        return _clip((now - start).total_seconds() / self.phase_length)

    def _rest_of_phase(self, now: datetime, after: int) -> float | None:
        """Seconds to the end of the current phase plus `after` phases as long as it; None without its end."""
        end = self.facts.phase_ends_at
        if end is None or self.phase_length is None:
            return None
        return max((end - now).total_seconds(), 0.0) + after * self.phase_length

    def setup_percent(self, now: datetime) -> float:
        index = _SETUP.index(self.state)
        return _W_SETUP * min((index + self._within(now)) / len(_SETUP), _BELOW_ONE)

    def setup_left(self, now: datetime) -> float | None:
        if self.send_time is None:
            return None
        rest = self._rest_of_phase(now, len(_SETUP) - 1 - _SETUP.index(self.state))
        if rest is None:  # no end given: the set-up is taken to last the plan's overhead from the task's start
            begun = self.facts.task_started_at or now
            rest = max((begun + _seconds(self.overhead) - now).total_seconds(), 0.0)
        return rest + self.send_time + self.overhead

    def fragments(self, now: datetime, sent: int | None, share: float) -> tuple[str, float, float | None]:
        sent_share = sent / self.total if sent is not None and self.total else 0.0
        end = self.fragments_end()
        if end is None:
            return "fragments", _W_SETUP + _W_FRAGMENTS * sent_share, None
        after = (now - end).total_seconds()
        if after < 0:
            return "fragments", _W_SETUP + _W_FRAGMENTS * sent_share, self.overhead - after
        # The last fragment is out but the back end still says EnqueueFragment: Milesight's status round, timed; or
        # a move to SendFragSessStatus not yet seen, which must not be counted ahead of that state's own start.
        timed = _clip(after / self.overhead) if self.overhead and self.finishing_by_time else 0.0
        finishing = max(share, timed)
        percent = _W_SETUP + _W_FRAGMENTS * sent_share + _W_FINISHING * min(finishing, _BELOW_ONE)
        return "finishing", percent, self.overhead - after

    def finishing_percent(self, now: datetime, share: float) -> float:
        phases = (_FINISHING.index(self.state) + self._within(now)) / len(_FINISHING)
        return _W_SETUP + _W_FRAGMENTS + _W_FINISHING * min(max(phases, share), _BELOW_ONE)

    def finishing_left(self, now: datetime) -> float:
        after = len(_FINISHING) - 1 - _FINISHING.index(self.state)
        rest = self._rest_of_phase(now, after)
        return rest if rest is not None else self.overhead * (after + 1) / len(_FINISHING)


def _planned_total(plan: Mapping[str, Any] | None) -> int | None:
    try:
        return int((plan or {})["nb_frag"]) + int((plan or {})["redundancy"])
    except (KeyError, TypeError, ValueError):
        return None


def _sum(values: Iterable[int | None]) -> int | None:
    found = list(values)
    return None if not found or None in found else sum(v for v in found if v is not None)


def _clip(x: float) -> float:
    return min(max(x, 0.0), 1.0)


def _seconds(s: float) -> timedelta:
    return timedelta(seconds=s)


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()
