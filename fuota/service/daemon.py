"""`fuota daemon`: every campaign in the store, driven on an APScheduler 3.x schedule.

The store is the only truth: each pass reads which campaigns are open, so a campaign launched by `fuota launch`,
or aborted by `fuota abort`, from another process takes effect at the next pass, and a daemon started again after
a stop rebuilds everything from the store. The Runner does the work (one `tick` per campaign when it is due, each
on a thread of its own so that campaigns never wait for each other, and within a tick the due deployments at
once); windows and `max_concurrent` decide when deployments may start. A campaign's tick is admitted only when
every back end it uses has a free slot in its lane (fuota.service.lanes): a slow or dead back end holds at most
`lane_width` ticks, never a campaign on another back end.

SIGTERM or SIGINT stops the back-end work under way (fuota.backends.deadline.stop): no retry and no new call
starts, a call under way ends within its timeout, and the runner records a failure caused by the stop as nothing
at all (the deployment is resumed as a crash would be). The daemon waits for the ticks under way up to
`stop_grace` seconds (the longest call timeout and a second), gives its leases back and exits 0; a tick still
under way then (a name lookup, a retry's wait) is abandoned as a crash would abandon it — every step is stored
before it acts — so the daemon exits within `stop_grace` whatever is in flight.

Several daemons may share one store: each pass renews this daemon's heartbeat and leases (fuota/store/leases.py),
and each runner tick claims the campaign's deployments up to the daemon's fair share, so a daemon that dies
(SIGKILL, a lost machine) has its deployments taken over by the others once its leases expire.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.blocking import BlockingScheduler

from fuota.backends import deadline
from fuota.service.lanes import DEFAULT_WIDTH, Lanes, by_waiting
from fuota.service.runner import Runner
from fuota.store import CampaignRecord, Store
from fuota.views.metrics import DaemonMetrics

__all__ = ["Daemon", "JsonFormatter"]

log = logging.getLogger("fuota.daemon")


class JsonFormatter(logging.Formatter):
    """One JSON object per log line, for log collectors (`--log-json`)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry)


class Daemon:
    """Drives every open campaign of `store` through `backends` until stopped."""

    def __init__(
        self,
        store: Store,
        runner: Runner,
        *,
        pass_seconds: float = 0.5,
        metrics: DaemonMetrics | None = None,
        lane_width: int = DEFAULT_WIDTH,
        stop_grace: float = 11.0,
    ) -> None:
        """Drive with `runner` (fuota.service.campaigns.build_runner: it carries the daemon's name, its lease and
        every back end's policy) a pass every `pass_seconds`, with up to `lane_width` campaign ticks under way per
        back end; once stopped, wait up to `stop_grace` seconds for the ticks under way."""
        self.store = store
        self.runner = runner
        self.metrics = metrics  # poll lag is observed here; back-end calls by the wrapped back ends
        self.pass_seconds = pass_seconds
        self.name = runner.name
        self.lease = runner.lease
        self._due: dict[int, datetime] = {}
        self._scheduler = BlockingScheduler(timezone=UTC)
        self._stopping = threading.Event()
        self._renewed: float | None = None  # time.monotonic() of the last renewal of the leases
        self.lanes = Lanes(lane_width)
        self.stop_grace = stop_grace
        self._ticking: set[int] = set()  # campaigns whose tick is under way
        self._idle = threading.Condition()  # notified whenever a tick ends

    def one_pass(self) -> None:
        """Start a tick of every open campaign whose next wake-up has come, that is not being ticked already and
        whose back ends all have a free lane slot, longest waiting first; forget the ones that ended. Each tick runs
        on a thread of its own, so one campaign waiting on a slow back end never holds up another."""
        # Renewed four times a lease, so a slow pass or two never lets a lease lapse.
        if self._renewed is None or time.monotonic() - self._renewed >= self.lease.total_seconds() / 4:
            self.store.renew_leases(self.name, self.lease)
            self._renewed = time.monotonic()
        now = self.runner.clock()
        open_ids = set()
        due: dict[int, CampaignRecord] = {}
        for campaign in self.store.campaigns():
            if campaign.state.ended or self._stopping.is_set():
                continue
            open_ids.add(campaign.id)
            if campaign.id not in self._ticking and self._due.get(campaign.id, now) <= now:
                due[campaign.id] = campaign
        for campaign_id in by_waiting({cid: self._due.get(cid) for cid in due}):
            campaign = due[campaign_id]
            # Every back end of the campaign, ended deployments included: their tasks are deleted by the tick too.
            needs = frozenset(d.backend for d in self.store.deployments(campaign_id))
            if not self.lanes.take(needs):
                continue  # its wake-up stays past: it is first in line at the next pass
            if self.metrics is not None and campaign_id in self._due:
                self.metrics.poll_lag.observe((now - self._due[campaign_id]).total_seconds())
            self._ticking.add(campaign_id)
            name = f"fuota-campaign-{campaign_id}"
            # A daemon thread: one the stop abandons after stop_grace must not hold the process's exit.
            threading.Thread(target=self._tick, args=(campaign, needs), name=name, daemon=True).start()
        for gone in set(self._due) - open_ids - self._ticking:
            self._due.pop(gone, None)

    def _tick(self, campaign: CampaignRecord, needs: frozenset[str]) -> None:
        before = campaign.state
        try:
            wake = self.runner.tick(campaign.id)
        except Exception as exc:
            if self._stopping.is_set():
                # Cut by the stop (a store closed under it, a back end refused): the next daemon resumes it.
                log.info("campaign %s (%s): the pass ended by the stop: %s", campaign.id, campaign.name, exc)
                wake = None
            else:
                # One campaign's trouble must not stop the others; it is retried at a later pass.
                log.exception("campaign %s (%s): the pass failed; retrying", campaign.id, campaign.name)
                wake = self.runner.clock() + timedelta(seconds=5)
        try:
            after = self.store.campaign(campaign.id)
            if after is not None and after.state is not before:
                log.info("campaign %s (%s): %s → %s", campaign.id, campaign.name, before, after.state)
            if wake is None:
                self._due.pop(campaign.id, None)
            else:
                self._due[campaign.id] = wake
        finally:
            self.lanes.give_back(needs)
            with self._idle:
                self._ticking.discard(campaign.id)
                self._idle.notify_all()

    def stop(self, *_: object) -> None:
        """Stop the back-end work under way and the passes (safe from a signal handler)."""
        if not self._stopping.is_set():
            self._stopping.set()
            deadline.stop()  # no retry or new call starts; the calls under way end within their timeout
            log.info("stopping: ending the %d campaign tick(s) under way", len(self._ticking))
            threading.Thread(target=self._scheduler.shutdown, kwargs={"wait": True}, daemon=True).start()

    def _drain(self) -> bool:
        """Wait up to stop_grace seconds for the ticks under way to end; whether they all did."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._ticking, timeout=self.stop_grace)

    def serve(self) -> bool:
        """Run until SIGTERM or SIGINT; whether every tick under way then ended within stop_grace (if not, the
        caller exits without waiting for them: see the module docstring)."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self._scheduler.add_job(
            self.one_pass,
            "interval",
            seconds=self.pass_seconds,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            id="pass",
        )
        log.info("daemon started as %s: a pass every %.1f s", self.name, self.pass_seconds)
        try:
            self._scheduler.start()
        finally:
            drained = self._drain()
            if not drained:
                log.warning("stopping: %d campaign tick(s) still under way are abandoned", len(self._ticking))
            released = self.store.release_leases(self.name)
            log.info("daemon %s stopped; %d open deployment(s) left for the next daemon", self.name, released)
        return drained
