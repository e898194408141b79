"""`fuota daemon`: every campaign in the store, driven on an APScheduler 3.x schedule.

The store is the only truth: each pass reads which campaigns are open, so a campaign launched by `fuota launch`,
or aborted by `fuota abort`, from another process takes effect at the next pass, and a daemon started again after
a stop rebuilds everything from the store. The Runner does the work (one `tick` per campaign when it is due, on a
pool of threads so that campaigns never wait for each other, and within a tick the due deployments at once);
windows and `max_concurrent` decide when deployments may start. SIGTERM or SIGINT lets the ticks under way
finish — they persist as they go — gives the daemon's leases back, and the daemon exits 0.

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
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.blocking import BlockingScheduler

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
        campaign_workers: int = 4,
    ) -> None:
        """Drive with `runner` (fuota.service.campaigns.build_runner: it carries the daemon's name, its lease and
        every back end's policy) a pass every `pass_seconds`, ticking up to `campaign_workers` campaigns at once."""
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
        self._pool = ThreadPoolExecutor(campaign_workers, thread_name_prefix="fuota-campaign")
        self._ticking: set[int] = set()  # campaigns whose tick is under way on the pool

    def one_pass(self) -> None:
        """Start a tick of every open campaign whose next wake-up has come and that is not being ticked already;
        forget the ones that ended. Ticks run on the campaign pool, so one campaign waiting on a slow back end
        never holds up another."""
        # Renewed four times a lease, so a slow pass or two never lets a lease lapse.
        if self._renewed is None or time.monotonic() - self._renewed >= self.lease.total_seconds() / 4:
            self.store.renew_leases(self.name, self.lease)
            self._renewed = time.monotonic()
        now = self.runner.clock()
        open_ids = set()
        for campaign in self.store.campaigns():
            if campaign.state.ended or self._stopping.is_set():
                continue
            open_ids.add(campaign.id)
            if campaign.id in self._ticking or self._due.get(campaign.id, now) > now:
                continue
            if self.metrics is not None and campaign.id in self._due:
                self.metrics.poll_lag.observe((now - self._due[campaign.id]).total_seconds())
            self._ticking.add(campaign.id)
            self._pool.submit(self._tick, campaign)
        for gone in set(self._due) - open_ids - self._ticking:
            self._due.pop(gone, None)

    def _tick(self, campaign: CampaignRecord) -> None:
        before = campaign.state
        try:
            wake = self.runner.tick(campaign.id)
        except Exception:
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
            self._ticking.discard(campaign.id)

    def stop(self, *_: object) -> None:
        """Finish the pass in progress, then stop (safe from a signal handler)."""
        if not self._stopping.is_set():
            self._stopping.set()
            # What is really left to finish: the campaign ticks under way on the pool (the next pass starts none).
            log.info("stopping: finishing the %d campaign tick(s) under way", len(self._ticking))
            threading.Thread(target=self._scheduler.shutdown, kwargs={"wait": True}, daemon=True).start()

    def serve(self) -> None:
        """Run until SIGTERM or SIGINT."""
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
            self._pool.shutdown(wait=True)  # the ticks under way persist as they go: let them finish
            released = self.store.release_leases(self.name)
            log.info("daemon %s stopped; %d open deployment(s) left for the next daemon", self.name, released)
