"""The daemon's web dashboard (`fuota daemon --http HOST:PORT`): campaign pages with JSON twins, abort, /metrics.

    app.py      the Starlette application: routes, security headers, the abort endpoint's checks
    guard.py    who may read it: Host checked when bound to loopback, the token asked of every request beyond
    queries.py  what the campaign pages show, put together from the read model in fuota.views (the page and its
                JSON twin share it)
    server.py   uvicorn on a background thread of the daemon
    templates/  Jinja2 pages and the fragments they poll; static/ the vendored htmx, the page's script and CSS

Errors: DashboardError (server.py) when it cannot listen where asked; FilterError (fuota.views.rows) for a device-table
filter it cannot apply, answered 400; a path or query naming nothing (an id beyond 2⁶³, a page past any) is 400 or
404, never 500. Requests are refused with HTTP statuses, never exceptions that escape.
"""

from __future__ import annotations

from fuota.backends.base import Backend
from fuota.config import Config
from fuota.core.model import CampaignState
from fuota.service import campaigns
from fuota.store import Store
from fuota.views.metrics import CONTENT_TYPE, DaemonMetrics
from fuota.web.app import create_app
from fuota.web.server import Dashboard, DashboardError, parse_address

__all__ = ["Dashboard", "DashboardError", "start_dashboard"]


def start_dashboard(
    address: str, store: Store, config: Config, backends: dict[str, Backend], metrics: DaemonMetrics
) -> Dashboard:
    """Serve the dashboard of `store` at `address` (HOST:PORT or PORT) on a background thread; abort goes
    through fuota.service with `backends`, as `fuota abort` does. Raises DashboardError or ConfigError."""

    def abort(campaign_id: int, cause: str) -> CampaignState:
        return campaigns.abort(config, store, campaign_id, cause, backends=backends)

    host, port = parse_address(address)
    app = create_app(
        store,
        token=config.dashboard.secret(),
        abort=abort,
        metrics=lambda: (metrics.exposition(), CONTENT_TYPE),
        bound_to=host,
    )
    return Dashboard(app, host, port).start()
