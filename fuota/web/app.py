"""The dashboard's Starlette application: pages, their JSON twins, the abort endpoint and /metrics.

Every page has a twin under /api with the same path (/campaigns/3 ↔ /api/campaigns/3) returning the dict the page
renders, read through the read model (fuota.views; fuota.web.queries puts the campaign pages together). Pages
refresh themselves by htmx polling of HTML fragments. Everything is read-only except POST
/api/campaigns/{id}/abort, which needs the configured bearer token and a same-origin request. Responses carry a
Content-Security-Policy that allows this origin only: htmx and the page's script are served from /static, nothing
is fetched from elsewhere.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from fuota.backends.errors import BackendError
from fuota.core.model import CampaignState, Outcome, Stage
from fuota.store import CampaignRecord, Store
from fuota.views.formatting import format_duration, format_time, fragments_words, progress_words
from fuota.views.rows import LARGEST_ID, NO_OUTCOME, DeviceFilter, FilterError, device_page, devices_page
from fuota.views.schedule import schedule_text, undriven_text
from fuota.web.guard import HostGuard, TokenGuard, check_exposure, is_loopback
from fuota.web.queries import campaign_data, campaigns_data

__all__ = ["AbortFunction", "create_app"]

AbortFunction = Callable[[int, str], CampaignState]
HERE = Path(__file__).parent
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SAFE_FETCH_SITES = {"same-origin", "none"}  # Sec-Fetch-Site of the dashboard's own page, or typed by hand


class _SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response


def create_app(
    store: Store,
    *,
    token: str | None = None,
    abort: AbortFunction | None = None,
    metrics: Callable[[], tuple[bytes, str]] | None = None,
    bound_to: str | None = None,
) -> Starlette:
    """The dashboard over `store`. `token` enables abort (calling `abort(campaign_id, cause)`, the same path as
    `fuota abort`); `metrics` returns /metrics' body and content type; `bound_to`, the host it listens on, guards
    it as fuota.web.guard says (Host checked on loopback, the token asked of every request beyond; DashboardError
    beyond loopback without a token)."""
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals.update(
        stages=[s.value for s in Stage],
        outcomes=[o.value for o in Outcome] + [NO_OUTCOME],
        ended=[s.value for s in CampaignState if s.ended],  # no more polling once the campaign can not change
    )
    templates.env.filters["when"] = _when
    templates.env.globals.update(schedule_text=schedule_text, undriven_text=undriven_text)
    templates.env.filters.update(progress=progress_words, fragments=fragments_words, duration=format_duration)

    def campaign_of(request: Request) -> CampaignRecord:
        wanted = request.path_params["campaign_id"]
        campaign = store.campaign(wanted) if wanted <= LARGEST_ID else None  # beyond, SQL cannot even compare it
        if campaign is None:
            raise HTTPException(404, f"campaign {request.path_params['campaign_id']} does not exist")
        return campaign

    def table_of(request: Request) -> DeviceFilter:
        try:
            return DeviceFilter.parse(dict(request.query_params))
        except FilterError as exc:
            raise HTTPException(400, str(exc)) from exc

    def twin(path: str, template: str, build: Callable[[Request], dict[str, Any]]) -> tuple[Route, Route]:
        """A page and its JSON twin under /api, both from one `build`."""

        def page(request: Request) -> Response:
            data = _checked(build, request)
            return templates.TemplateResponse(request, template, {"data": data, "abort_enabled": token is not None})

        def api(request: Request) -> Response:
            return JSONResponse(_checked(build, request))

        return Route(path, page), Route("/api" + path, api)

    def fragment(
        template: str, build: Callable[[Request], dict[str, Any]], key: str = "data"
    ) -> Callable[[Request], Response]:
        """An HTML fragment a page polls or swaps in (htmx), from the same `build` as the page."""

        def view(request: Request) -> Response:
            return templates.TemplateResponse(request, template, {key: _checked(build, request)})

        return view

    def the_campaigns(request: Request) -> dict[str, Any]:
        return campaigns_data(store, datetime.now(UTC))  # the dashboard reads the clock; the views take it

    def the_campaign(request: Request) -> dict[str, Any]:
        return campaign_data(store, campaign_of(request), table_of(request), datetime.now(UTC))

    def the_devices(request: Request) -> dict[str, Any]:
        return devices_page(store, campaign_of(request), table_of(request))

    def the_device(request: Request) -> dict[str, Any]:
        data = device_page(store, campaign_of(request), request.path_params["dev_eui"])
        if data is None:
            raise HTTPException(404, f"device {request.path_params['dev_eui']} is not in this campaign")
        return data

    async def abort_campaign(request: Request) -> Response:
        _refuse_cross_site(request)
        _require_token(request, token)
        campaign = campaign_of(request)
        if campaign.state.ended:
            raise HTTPException(409, f"campaign {campaign.id} ({campaign.name}) already ended {campaign.state}")
        assert abort is not None  # a token is only given together with the way to abort
        try:
            final = await run_in_threadpool(abort, campaign.id, "aborted from the dashboard")
        except BackendError as exc:
            raise HTTPException(502, f"the back end refused the abort: {exc}; fix it and abort again") from exc
        return JSONResponse({"id": campaign.id, "name": campaign.name, "state": str(final)})

    def metrics_endpoint(request: Request) -> Response:
        if metrics is None:
            raise HTTPException(404, "this dashboard serves no metrics")
        body, content_type = metrics()
        return Response(body, media_type=content_type)

    def errors(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        if request.url.path.startswith("/api/") or request.method == "POST":
            return JSONResponse({"error": exc.detail}, exc.status_code, headers=headers)
        return Response(exc.detail, exc.status_code, headers=headers, media_type="text/plain")

    routes = [
        Route("/", lambda request: RedirectResponse("/campaigns")),
        *twin("/campaigns", "campaigns.html", the_campaigns),
        *twin("/campaigns/{campaign_id:int}", "campaign.html", the_campaign),
        *twin("/campaigns/{campaign_id:int}/devices/{dev_eui:str}", "device.html", the_device),
        Route("/fragments/campaigns", fragment("_campaigns.html", the_campaigns)),
        Route("/fragments/campaigns/{campaign_id:int}", fragment("_summary.html", the_campaign)),
        Route("/fragments/campaigns/{campaign_id:int}/devices", fragment("_devices.html", the_devices, "table")),
        Route("/api/campaigns/{campaign_id:int}/devices", lambda request: JSONResponse(_checked(the_devices, request))),
        Route("/api/campaigns/{campaign_id:int}/abort", abort_campaign, methods=["POST"]),
        Route("/metrics", metrics_endpoint),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [Middleware(_SecurityHeaders)]
    if bound_to is not None:
        check_exposure(bound_to, token)
        guard = Middleware(HostGuard) if is_loopback(bound_to) else Middleware(TokenGuard, token=token)
        middleware.insert(0, guard)
    return Starlette(routes=routes, middleware=middleware, exception_handlers={HTTPException: errors})


def _when(iso: str | None) -> str:
    """An ISO time of the page's data as `YYYY-MM-DD HH:MM:SS UTC` (the read model's times are UTC), or "-"."""
    return format_time(iso)


def _checked(build: Callable[[Request], dict[str, Any]], request: Request) -> dict[str, Any]:
    try:
        return build(request)
    except FilterError as exc:
        raise HTTPException(400, str(exc)) from exc


def _refuse_cross_site(request: Request) -> None:
    """Refuse a request another site's page made: browsers say so in Sec-Fetch-Site and Origin."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in SAFE_FETCH_SITES:
        raise HTTPException(403, f"Sec-Fetch-Site = {site!r}: abort only from the dashboard's own page")
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    if origin is not None and origin != own:
        raise HTTPException(403, f"Origin = {origin!r} is not this dashboard ({own}): abort only from its own page")


def _require_token(request: Request, token: str | None) -> None:
    """The bearer token of [dashboard] in the Authorization header: a header no cross-site form can send."""
    if token is None:
        raise HTTPException(403, "abort is disabled: set token or token_env under [dashboard] in the configuration")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise HTTPException(401, "abort needs the dashboard token: send Authorization: Bearer <token>")
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise HTTPException(403, "the token does not match [dashboard] token of the configuration")
