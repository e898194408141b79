"""The runner: the one place where engines, back ends and the store meet (DESIGN.md §3–§4).

For each open deployment it rebuilds the engine from the store, calls the engine's timer when its deadline
passes, persists what the engine produced — state, events and changed devices in one transaction — and only then
carries out the engine's commands through the back end, feeding the answers back as observations. Because every
step is stored before it acts, and a task is always looked up by its stored name before it is created, a runner
killed at any point and started again resumes without creating anything twice. Once a deployment has ended and its
results are stored, its finished task is deleted from a back end that keeps tasks (fuota.service.task_hygiene), at
every pass until done, before the campaign is concluded.

Several runners (daemons) may share one store: each drives only the deployments whose lease it holds
(fuota/store/leases.py), claimed at every pass up to its fair share and written under that lease, so that a
deployment is driven by one runner at a time and taken over by another when its runner dies.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fuota.backends import deadline
from fuota.backends.base import Backend
from fuota.backends.errors import AuthError, BackendError, MalformedAnswer, TransientError
from fuota.core.engine import DeploymentEngine
from fuota.core.messages import (
    AbortRequested,
    BackendFailed,
    Command,
    Step,
)
from fuota.core.model import CampaignState, DeploymentState, Preparation
from fuota.core.outcomes import campaign_outcome
from fuota.core.settings import DEFAULT_GIVE_UP_AFTER, DEFAULT_POLL_INTERVAL
from fuota.service import credentials
from fuota.service.commands import PLAN_FIELDS, carry_out, plan_differences
from fuota.service.firmware import FirmwareChanged
from fuota.service.lanes import interleave
from fuota.service.task_hygiene import tidy
from fuota.store import CampaignRecord, DeploymentRecord, EventKind, LeaseLost, NewEvent, StaleState, Store
from fuota.store.leases import DEFAULT_LEASE
from fuota.views.credentials import refused_since

__all__ = ["LEASE", "Runner", "default_runner_name", "ended_here"]

LEASE = DEFAULT_LEASE
_ABORT_ATTEMPTS = 5
_REFUSED = "the back end refused fuota's credentials before any task existed (fix the configuration, then launch again)"
# Preparations past which the credentials have worked and something of the deployment exists on the back end.
_UNDER_WAY = frozenset({Preparation.JOINING, Preparation.CREATING})

log = logging.getLogger("fuota.runner")

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def default_runner_name(role: str = "runner") -> str:
    """A name no other live process shares: the role, the host and the process id."""
    return f"{role}@{socket.gethostname()}:{os.getpid()}"


def ended_here(owners: set[str]) -> frozenset[str]:
    """The runners among `owners` named by default_runner_name on this machine whose process has ended: their
    leases need not be waited out (a `fuota run` or daemon killed and started again takes over at once)."""
    host = socket.gethostname()
    dead = set()
    for owner in owners:
        where, _, pid = owner.partition("@")[2].rpartition(":")
        if where != host or not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            dead.add(owner)
        except PermissionError:
            pass  # alive, another user's
    return frozenset(dead)


@dataclass
class _Live:
    """A deployment under way: its stored record, its engine and when it wants the timer next."""

    record: DeploymentRecord
    engine: DeploymentEngine
    deadline: datetime | None
    failing_since: datetime | None = None  # first of the back end's transient failures in a row
    plan_checked: bool = False  # the back end's own fragmentation plan was compared with fuota's
    refusal: credentials.Refusal | None = None  # the back end refuses the credentials since (fuota.service.credentials)


class Runner:
    """Drives one campaign's deployments through their back ends, persisting every step."""

    def __init__(
        self,
        store: Store,
        backends: dict[str, Backend],
        *,
        clock: Clock = _utcnow,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval: dict[str, float] | None = None,
        give_up_after: dict[str, float] | None = None,
        max_concurrent: dict[str, int] | None = None,
        recheck: timedelta = timedelta(seconds=1),
        name: str | None = None,
        lease: timedelta = LEASE,
        workers: int = 8,
    ) -> None:
        self.store = store
        self.backends = backends
        self.clock = clock
        self.sleep = sleep
        self.poll_interval = poll_interval or {}
        self.give_up_after = give_up_after or {}
        self.max_concurrent = max_concurrent or {}
        self.recheck = recheck  # how soon a deployment held back (window, concurrency) asks again
        self.name = name or default_runner_name()
        self.lease = lease
        self.workers = workers  # deployments of one campaign stepped at once
        self._lives: dict[int, dict[int, _Live]] = {}
        self._stops: dict[int, str] = {}  # campaigns to stop at the end of their pass, and why

    # -- building engines from the store --------------------------------------------------------------------
    def _engine(self, campaign: CampaignRecord, record: DeploymentRecord) -> DeploymentEngine:
        """The deployment's engine in the state the store holds: its state, devices, preparation and deadlines."""
        settings = campaign.settings
        return DeploymentEngine(
            record.state,
            {d.dev_eui: d.progress() for d in self.store.devices(deployment_id=record.id)},
            start_at=settings.start,
            poll_interval=timedelta(seconds=self.poll_interval.get(record.backend, DEFAULT_POLL_INTERVAL)),
            join_timeout=timedelta(seconds=settings.join_timeout),
            temporary=record.temporary,
            expected_version=settings.expected_version,
            preparation=record.preparation,
            join_deadline=record.join_deadline,
        )

    def _hold(self, campaign: CampaignRecord, *, force: bool = False) -> dict[int, _Live]:
        """Claim the campaign's deployments for this runner; keep an engine for each held, built afresh from the
        store for one just taken (another runner may have moved it), and forget the ones no longer held."""
        owners = {d.lease_owner for d in self.store.deployments(campaign.id) if d.lease_owner and not d.state.ended}
        dead = ended_here(owners - {self.name})
        held = self.store.claim_deployments(self.name, self.lease, campaign_id=campaign.id, force=force, dead=dead)
        live = self._lives.setdefault(campaign.id, {})
        for gone in set(live) - held:
            del live[gone]
        if held - set(live):
            now = self.clock()
            refused = refused_since(self.store, campaign.id)  # a wait for good credentials carries over
            for record in self.store.deployments(campaign.id):
                if record.id in held and record.id not in live:
                    live[record.id] = _Live(record, self._engine(campaign, record), now)
                    if record.id in refused:
                        live[record.id].refusal = credentials.Refusal(refused[record.id])
        return live

    # -- the loop --------------------------------------------------------------------------------------------
    def tick(self, campaign_id: int) -> datetime | None:
        """One pass over the campaign: do what is due, persist it; return when it wants the next pass, or None
        once it has ended. A daemon calls this for every campaign; `run` calls it in a loop for one."""
        campaign = self._campaign(campaign_id)
        if campaign.state.ended:
            self._lives.pop(campaign_id, None)
            return None
        live = self._hold(campaign)
        self._follow_the_store(campaign, live)
        now = self.clock()
        steps: list[_Live] = []
        for item in list(live.values()):
            if item.deadline is None or item.deadline > now or item.engine.state.ended:
                continue
            due = item.engine.start_at is None or item.engine.start_at <= now
            if due and not item.engine.started and not self._may_start(campaign, item, now):
                item.deadline = now + self.recheck
                continue
            if due and campaign.state is CampaignState.SCHEDULED:
                campaign = self._set_running(campaign, item)
            steps.append(item)
        self._step_all(campaign, steps, now)
        if (cause := self._stops.pop(campaign_id, None)) is not None:
            self.abort(campaign_id, cause)
        # Ended deployments' tasks are deleted first; one left to another runner holds the conclusion back.
        left = tidy(self.store, campaign_id, self.backends, owner=self.name, now=self.clock(), dead=ended_here)
        if not left and self._conclude(campaign) is not None:
            self._lives.pop(campaign_id, None)
            return None
        deadlines = [i.deadline for i in live.values() if i.deadline is not None and not i.engine.state.ended]
        # Deployments held by no one (or by a runner that may die) are looked at again soon.
        return min([*deadlines, now + self.recheck])

    def run(
        self, campaign_id: int, *, on_progress: Callable[[], None] | None = None, wake: float = 1.0
    ) -> CampaignState:
        """Drive the campaign until it ends; return its final state. Safe to call again after a crash."""
        while True:
            wake_at = self.tick(campaign_id)
            if on_progress is not None:
                on_progress()
            if wake_at is None:
                return self._campaign(campaign_id).state
            self.sleep(max(0.0, min((wake_at - self.clock()).total_seconds(), wake)))

    def _step_all(self, campaign: CampaignRecord, items: list[_Live], now: datetime) -> None:
        """The timer step of each item, several at once on threads: a slow or silent back end (a gateway gone for
        minutes) then holds up only its own deployments. Each deployment stays on one thread; the items are taken
        round-robin across back ends (fuota.service.lanes.interleave), so one back end's deployments cannot take
        every thread while another's wait."""
        if len(items) <= 1 or self.workers <= 1:
            for item in items:
                self._carry(campaign, item, item.engine.timer(now))
            return
        items = interleave(items, lambda i: i.record.backend)
        with ThreadPoolExecutor(min(self.workers, len(items)), thread_name_prefix="fuota-deployment") as pool:
            futures = [pool.submit(lambda i=item: self._carry(campaign, i, i.engine.timer(now))) for item in items]
        for future in futures:
            future.result()  # what one raised (a bug, a lost store) is raised here

    def _may_start(self, campaign: CampaignRecord, item: _Live, now: datetime) -> bool:
        """A deployment starts only inside its campaign's window, and within its back end's max_concurrent,
        counted in the store across every runner (so several daemons together keep to it)."""
        window = campaign.settings.window
        if window is not None and not window.open_at(now):
            return False
        backend = item.record.backend
        return self.store.admit(item.record.id, backend, self.max_concurrent.get(backend))

    def abort(self, campaign_id: int, cause: str = "abort requested") -> CampaignState:
        """Stop every open deployment of the campaign on its back end; devices keep their last stage."""
        campaign = self._campaign(campaign_id)
        # A daemon's step already under way may still land between our read and our write (StaleState): read the
        # deployment again and abort it again. The forced leases keep the daemon from writing any further step.
        for _ in range(_ABORT_ATTEMPTS):
            live = self._hold(campaign, force=True)
            self._follow_the_store(campaign, live)
            still_open = [item for item in live.values() if not item.engine.state.ended]
            if not still_open:
                break
            for item in still_open:
                self._carry(campaign, item, item.engine.handle(AbortRequested(cause), self.clock()))
        tidy(self.store, campaign_id, self.backends, owner=self.name, now=self.clock(), dead=ended_here)
        return self._conclude(campaign) or self._campaign(campaign_id).state

    def _campaign(self, campaign_id: int) -> CampaignRecord:
        campaign = self.store.campaign(campaign_id)
        if campaign is None:
            raise LookupError(f"campaign {campaign_id} does not exist; `fuota list` shows the campaigns")
        return campaign

    def _set_running(self, campaign: CampaignRecord, item: _Live) -> CampaignRecord:
        cause = f"deployment {item.record.task_name} starts"
        self.store.set_campaign_state(campaign.id, CampaignState.RUNNING, cause, expected=CampaignState.SCHEDULED)
        return self._campaign(campaign.id)

    def _follow_the_store(self, campaign: CampaignRecord, live: dict[int, _Live]) -> None:
        """Another process may have moved a deployment (`fuota abort`) or replaced what it sends (`fuota launch
        --update`, which stamps its updated_at): take the stored deployment as the truth."""
        for record in self.store.deployments(campaign.id):
            item = live.get(record.id)
            if item is not None and (
                record.state is not item.engine.state or record.updated_at > item.record.updated_at
            ):
                live[record.id] = _Live(
                    record,
                    self._engine(campaign, record),
                    None if record.state.ended else self.clock(),
                    refusal=item.refusal,
                )

    def _conclude(self, campaign: CampaignRecord) -> CampaignState | None:
        records = self.store.deployments(campaign.id)
        threshold = campaign.settings.success_threshold
        verdict = campaign_outcome([r.state for r in records], self.store.outcome_counts(campaign.id), threshold)
        if verdict is None:
            return None
        state, cause = verdict
        if state in (CampaignState.ABORTED, CampaignState.FAILED):
            cause = self._why(campaign.id, state, cause)
        current = self._campaign(campaign.id).state
        if not current.ended:
            self.store.set_campaign_state(campaign.id, state, cause, expected=current)
        return self._campaign(campaign.id).state

    def _why(self, campaign_id: int, state: CampaignState, cause: str) -> str:
        """The campaign's cause, completed with the first deployment's own reason for ending that way."""
        ended = {CampaignState.ABORTED: DeploymentState.ABORTED, CampaignState.FAILED: DeploymentState.FAILED}[state]
        for event in self.store.events(campaign_id, EventKind.TRANSITION):
            if event.deployment_id is not None and event.to_state == ended.value:
                return f"{cause}: {event.cause}"
        return cause

    # -- one engine step: persist, then act -------------------------------------------------------------------
    def _carry(self, campaign: CampaignRecord, item: _Live, step: Step, **fields: object) -> None:
        before = item.record.state
        now = self.clock()
        events = [
            NewEvent(
                kind=e.kind,
                cause=e.cause,
                from_state=_text(e.from_state),
                to_state=_text(e.to_state),
                dev_eui=e.dev_eui,
                at=now,
            )
            for e in step.events
        ]
        try:
            self.store.apply(
                item.record.id,
                state=item.engine.state,
                events=events,
                devices=step.devices,
                # The stored deadline is never read back (a deployment taken up again is polled at once), so it is
                # written with a transition only: a poll where nothing changed writes no row.
                next_deadline=step.deadline if item.engine.state is not before or step.deadline is None else ...,
                preparation=item.engine.preparation,
                join_deadline=item.engine.join_deadline,
                expected_state=before,
                lease_owner=self.name,
                **fields,
            )
        except LeaseLost:
            self._lives.get(campaign.id, {}).pop(item.record.id, None)  # another runner drives it now
            return
        except StaleState:
            item.deadline = self.clock()  # someone else moved it; _follow_the_store picks it up
            return
        item.record = self.store.deployment(item.record.id)  # this one alone: all of them would cost O(deployments)
        item.deadline = step.deadline
        for command in step.commands:
            self._execute(campaign, item, command)

    def _execute(self, campaign: CampaignRecord, item: _Live, command: Command) -> None:
        backend = self.backends[item.record.backend]
        give_up_after = self.give_up_after.get(item.record.backend, DEFAULT_GIVE_UP_AFTER)
        try:
            # A back end already failing gets no retry past what is left of give_up_after: the deployment fails
            # within give_up_after of the first failure, plus the one call under way then.
            with deadline.giving_up_in(self._patience(item, give_up_after)):
                observations = carry_out(
                    self.store,
                    campaign,
                    item.record,
                    backend,
                    command,
                    lambda raw: self._check_plan(campaign, item.record, raw),
                )
        except AuthError as exc:
            if item.engine.state.ended:
                # Its clean-up after it failed: nothing more can be done with these credentials; say so and go on.
                cause = f"{item.record.task_name} {type(command).__name__} refused: {exc}"
                self.store.record_event(campaign.id, NewEvent(EventKind.ERROR, cause), deployment_id=item.record.id)
                return
            if item.record.backend_ref is not None or item.engine.preparation in _UNDER_WAY:
                # Under way on the back end: wait for a rotated token, visibly, failing after give_up_after.
                now = self.clock()
                item.refusal, failed = credentials.refused(
                    self.store, campaign, item.record, item.refusal, exc, now, give_up_after
                )
                if failed is None:
                    return
                item.refusal = None  # the wait is over: the deployment fails
                observations = [(failed, {})]
            else:
                # Nothing exists on the back end yet, so there is nothing to resume, and a campaign left Running
                # would be driven by nobody: the deployment fails with the reason, and the campaign with it.
                log.error("campaign %s (%s): %s: %s", campaign.id, campaign.name, item.record.task_name, exc)
                observations = [(BackendFailed(f"{_REFUSED}: {exc}"), {})]
        except FirmwareChanged as exc:
            self._carry(campaign, item, item.engine.handle(BackendFailed(str(exc)), self.clock()))
            # Every other deployment of the campaign stops too, once this pass's other threads are done with them.
            self._stops[campaign.id] = str(exc)
            return
        except TransientError as exc:
            if deadline.stopping():
                # Cut short by the process's stop, not by the back end: nothing to record, the step is resumed.
                log.info(
                    "campaign %s (%s): %s stopped, left for the next start",
                    campaign.id,
                    campaign.name,
                    type(command).__name__,
                )
                return
            now = self.clock()
            # Counted from the first failure, which the adapter's retry loop may have met well before it gave up.
            item.failing_since = item.failing_since or now - timedelta(seconds=exc.silent_for)
            silent = (now - item.failing_since).total_seconds()
            if silent < give_up_after:
                cause = f"{item.record.task_name} {type(command).__name__}: {exc}"
                # An answer that breaks the spec is worth an operator's look even when a retry gets a good one.
                kinds = [EventKind.RETRY, EventKind.ANOMALY] if isinstance(exc, MalformedAnswer) else [EventKind.RETRY]
                events = [NewEvent(kind=kind, cause=cause, at=now) for kind in kinds]
                self.store.record_event(campaign.id, *events, deployment_id=item.record.id)
                log.warning("campaign %s (%s): %s: %s; will retry", campaign.id, campaign.name, kinds[-1], cause)
                return
            lack = "no well-formed answer" if isinstance(exc, MalformedAnswer) else "back end silent/slow"
            why = f"{lack} for {silent:.0f} s (give_up_after = {give_up_after:g} s), giving up: {exc}"
            observations = [(BackendFailed(why), {})]
            log.error("campaign %s (%s): %s fails: %s", campaign.id, campaign.name, item.record.task_name, exc)
        except BackendError as exc:
            observations = [(BackendFailed(f"{type(command).__name__}: {exc}"), {})]
        else:
            item.failing_since = None
            if item.refusal is not None:
                credentials.accepted(self.store, campaign, item.record, item.refusal, self.clock())
                item.refusal = None
        for observation, fields in observations:
            self._carry(campaign, item, item.engine.handle(observation, self.clock()), **fields)

    def _patience(self, item: _Live, give_up_after: float) -> float:
        """Seconds the deployment's back-end calls may still take: what is left of give_up_after once its back
        end fails, unbounded (each call's own timeout) while it answers."""
        if item.failing_since is None:
            return math.inf
        return give_up_after - (self.clock() - item.failing_since).total_seconds()

    def _check_plan(self, campaign: CampaignRecord, record: DeploymentRecord, raw: dict[str, object]) -> None:
        """Record, once per deployment, an anomaly where the back end fragments otherwise than fuota planned."""
        item = self._lives.get(campaign.id, {}).get(record.id)
        if item is None or item.plan_checked or not any(field in raw for field in PLAN_FIELDS):
            return
        item.plan_checked = True
        differences = plan_differences(record.plan, raw)
        if differences:
            cause = f"{record.task_name}: the back end's plan differs: {'; '.join(differences)}"
            event = NewEvent(kind="anomaly", cause=cause, at=self.clock())
            self.store.record_event(campaign.id, event, deployment_id=record.id)


def _text(value: object) -> str | None:
    return None if value is None else str(value)
