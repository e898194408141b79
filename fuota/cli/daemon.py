"""`fuota daemon`: drive every campaign of the store on schedule, with the dashboard and metrics on request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from fuota.cli.common import build_backends, fail, load, open_store
from fuota.config import Config, ConfigError

if TYPE_CHECKING:
    from fuota.store import Store

__all__ = ["daemon"]


def daemon(
    log_json: Annotated[bool, typer.Option("--log-json", help="Log one JSON object per line to stderr.")] = False,
    name: Annotated[
        str | None,
        typer.Option(
            help="This daemon's name among the daemons sharing the store (default: daemon@HOST:PID). Restarted "
            "under the same name, it takes its deployments back at once instead of waiting for their leases."
        ),
    ] = None,
    lease_seconds: Annotated[
        float,
        typer.Option(
            min=2.0,
            max=3600.0,
            help="How long a deployment stays with this daemon after its last renewal: another daemon takes it "
            "over that long after this one dies.",
        ),
    ] = 30.0,
    http: Annotated[
        str | None,
        typer.Option("--http", metavar="HOST:PORT", help="Serve the dashboard and /metrics here (host: 127.0.0.1)."),
    ] = None,
    lane_width: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Campaign ticks under way at once per back end: a slow back end holds at most this many, never "
            "a campaign on another back end.",
        ),
    ] = 2,
) -> None:
    """Drive every campaign in the store on schedule until SIGTERM/SIGINT (then exit 0). Several daemons may
    share one store (PostgreSQL, or SQLite on one machine): they divide the deployments between them.

    With --http, also serve a dashboard of the campaigns (pages, their JSON twins under /api, abort with the
    configuration's dashboard token) and Prometheus metrics at /metrics.
    """
    import logging
    import os
    import sys
    from datetime import timedelta

    from fuota.service.campaigns import build_runner
    from fuota.service.daemon import Daemon
    from fuota.service.runner import default_runner_name

    with _logging_to_stderr(log_json):
        if http is not None:
            _check_address(http)  # before the store opens: a bad address leaves no trace
        config = load()
        if http is not None:
            _check_exposure(http, config)  # before the store opens, too
        store = open_store(config)
        backends = build_backends(config, set(config.backends))
        metrics, dashboard = None, None
        try:
            if http is not None:
                metrics, backends, dashboard = _dashboard(http, store, config, backends)
            runner = build_runner(
                config,
                store,
                backends,
                name=name or default_runner_name("daemon"),
                lease=timedelta(seconds=lease_seconds),
            )
            # Past its longest call timeout, a tick still under way after the stop is abandoned (see Daemon).
            grace = max((b.timeout for b in config.backends.values()), default=10.0) + 1.0
            drained = Daemon(store, runner, metrics=metrics, lane_width=lane_width, stop_grace=grace).serve()
        finally:
            if dashboard is not None:
                dashboard.stop()
            for backend in backends.values():
                backend.close()
            store.close()
    if not drained:
        # The abandoned ticks' step threads would hold the interpreter's exit until their waits end.
        logging.shutdown()
        sys.stdout.flush()
        os._exit(0)


@contextmanager
def _logging_to_stderr(log_json: bool) -> Iterator[None]:
    """fuota's log lines (JSON with `--log-json`) on stderr while the daemon runs; the logging set-up before it is
    restored afterwards (the command also runs inside other programs: the tests, an embedding application)."""
    import logging
    import sys

    from fuota.service.daemon import JsonFormatter

    root = logging.getLogger()
    before = (root.handlers[:], root.level)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_json else logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    # Their INFO lines (each scheduler run, each HTTP request, each migration check, each state machine's
    # transition — the store records those as events) would drown fuota's own.
    for chatty in ("apscheduler", "httpx", "alembic", "transitions"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.handlers[:] = before[0]
        root.setLevel(before[1])


def _check_address(address: str) -> None:
    """Exit 2 naming `--http` when it is not HOST:PORT (the dashboard is started, and checks it again, later)."""
    from fuota.web.server import DashboardError, parse_address

    try:
        parse_address(address)
    except DashboardError as exc:
        raise fail(str(exc)) from exc


def _check_exposure(address: str, config: Config) -> None:
    """Exit 2 naming [dashboard] token when `--http` listens beyond loopback and no token is configured."""
    from fuota.web.guard import check_exposure
    from fuota.web.server import DashboardError, parse_address

    try:
        check_exposure(parse_address(address)[0], config.dashboard.secret())
    except (DashboardError, ConfigError) as exc:
        raise fail(str(exc)) from exc


def _dashboard(address: str, store: Store, config: Config, backends: dict):
    """The daemon's metrics, its back ends measured by them, and its dashboard serving at `address`."""
    import stamina.instrumentation

    from fuota.views.metrics import DaemonMetrics
    from fuota.web import DashboardError, start_dashboard

    metrics = DaemonMetrics(store, clock=lambda: datetime.now(UTC))
    metered = metrics.wrap(backends)
    stamina.instrumentation.set_on_retry_hooks([metrics.on_retry])
    try:
        return metrics, metered, start_dashboard(address, store, config, metered, metrics)
    except (DashboardError, ConfigError) as exc:
        raise fail(str(exc)) from exc
