"""The use cases every front end calls: plan, launch, run and abort a campaign — and the one place where the
Runner is built from the configuration, so that every limit and policy of `[backends.NAME]` applies the same to
`fuota run`, `fuota abort`, `fuota daemon` and the dashboard.

    plan(config, campaign)              the deployments a campaign fans out into, and its settings: sends nothing
    forecast(plan, …)                   what `fuota plan` shows: pacing, duration, share decoding, advice
    launch(store, plan)                 store it in Scheduled, or find the campaign of that name to resume
    build_runner(config, store, …)      the Runner, with the configuration's poll intervals, give-up times and limits
    run(config, store, campaign_id)     drive a stored campaign to its end in this process
    abort(config, store, campaign_id)   stop it on its back ends

`fuota retry` plans a family's next retry in fuota/service/retries.py.

Everything is checked before anything is stored (DESIGN.md §4): ConfigError names the field, the value and what to
do, and nothing is written then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fuota.backends.base import Backend, DeploymentPlan, PlanRequest
from fuota.backends.registry import kind_of, make_backend
from fuota.campaign import Campaign, table_of
from fuota.config import Config
from fuota.core.model import CampaignState
from fuota.core.settings import DEFAULT_JOIN_TIMEOUT, CampaignSettings, ConfigError
from fuota.planning.forecast import forecast as forecast_deployment
from fuota.planning.forecast import recommendation, sweep_table
from fuota.service.runner import LEASE, Clock, Runner
from fuota.store import CampaignRecord, NewDeployment, Store

__all__ = [
    "CampaignPlan",
    "abort",
    "build_backends",
    "build_runner",
    "forecast",
    "launch",
    "plan",
    "run",
]

SWEEP_LOSSES = [0.02, 0.05, 0.1, 0.15, 0.2]


@dataclass(frozen=True)
class CampaignPlan:
    """A campaign as it would be sent: its settings as they will be stored, and its deployments."""

    campaign: Campaign
    settings: CampaignSettings
    deployments: list[DeploymentPlan]


def plan(config: Config, campaign: Campaign) -> CampaignPlan:
    """The deployments the campaign fans out into on its back end, and its settings; ConfigError when it cannot be
    sent as written. The back end's kind decides (fuota/backends/<vendor>/kind.py): IoTSquare, one deployment per
    multicast group; Milesight, one per gateway (asked over the broker, nothing is sent)."""
    file = campaign.file
    backend = config.backend(file.backend)
    kind = kind_of(backend.kind)
    request = PlanRequest(
        campaign.name, campaign.devices, len(campaign.firmware), file.redundancy_percent, table_of(file, kind.name)
    )
    planned = kind.plan(file.backend, backend, request)
    settings = CampaignSettings(
        name=campaign.name,
        backend=file.backend,
        kind=kind.name,
        redundancy_percent=file.redundancy_percent,
        start=file.start,
        window=file.window,
        success_threshold=file.success_threshold,
        expected_loss=file.expected_loss,
        join_timeout=DEFAULT_JOIN_TIMEOUT if planned.join_timeout is None else planned.join_timeout,
        expected_version=planned.expected_version,
        firmware_path=None if campaign.firmware_path is None else str(campaign.firmware_path),
        devices_file=None if file.devices_file is None else str(file.devices_file),
        target=planned.target,
    )
    return CampaignPlan(campaign, settings, planned.deployments)


def forecast(
    planned: CampaignPlan, *, loss: float | None = None, target: float | None = None, sweep: bool = False
) -> dict[str, Any]:
    """What `fuota plan` shows, JSON-ready: the firmware, the deployments each with its fragmentation and forecast
    (pacing, duration, share decoding at `loss`, by default the campaign's expected_loss), the smallest redundancy
    reaching `target` (a share of devices decoding) and a redundancy × loss sweep."""
    settings = planned.settings
    rate = settings.expected_loss if loss is None else loss
    pacing = kind_of(settings.kind).pacing(settings.target)
    deployments = [
        {
            "task_name": d.task_name,
            "backend": d.backend,
            "target": d.target or "(new group)",
            "temporary": d.temporary,
            "devices": len(d.devices),
            "plan": forecast_deployment(
                d.frag, region=pacing.region, dr=pacing.dr, interval_ms=pacing.interval_ms, expected_loss=rate,
                start=settings.start,
            ),
        }
        for d in planned.deployments
    ]  # fmt: skip
    data: dict[str, Any] = {
        "name": planned.campaign.name,
        "firmware": {"size": len(planned.campaign.firmware), "sha256": planned.campaign.sha256},
        "devices": len(planned.campaign.devices),
        "deployments": deployments,
    }
    if target is not None and deployments:
        first = deployments[0]["plan"]
        data["recommendations"] = [
            recommendation(first["nb_frag"], first["redundancy"], first["interval_ms"], target, rate)
        ]
    if sweep and planned.deployments:
        m = planned.deployments[0].frag.nb_frag
        steps = sorted({round(m * f / 100) for f in range(0, 101, 10)})
        data["sweep"] = sweep_table(m, steps, SWEEP_LOSSES)
    return data


def launch(store: Store, planned: CampaignPlan) -> tuple[CampaignRecord, bool]:
    """Store the planned campaign in Scheduled with its deployments, or find the one of the same name to resume;
    returns (record, resumed). Plan first (`plan`): nothing is stored when planning fails."""
    campaign = planned.campaign
    existing = store.campaign(campaign.name)
    if existing is not None:
        if existing.state.ended:
            raise ConfigError(
                f"name = {campaign.name!r}: that campaign already ended ({existing.state}); give the new one "
                "another name (`fuota status` shows what happened to it)"
            )
        if existing.firmware_sha256 != campaign.sha256:
            raise ConfigError(
                f"name = {campaign.name!r} is a campaign under way with another firmware (sha256 "
                f"{existing.firmware_sha256[:12]}…, this file {campaign.sha256[:12]}…); abort it or use a new name"
            )
        return existing, True
    deployments = [
        NewDeployment(
            backend=d.backend,
            target=d.target,
            task_name=d.task_name,
            temporary=d.temporary,
            devices=list(d.devices),
            plan={
                "nb_frag": d.frag.nb_frag,
                "frag_size": d.frag.frag_size,
                "padding": d.frag.padding,
                "redundancy": d.frag.redundancy,
            },
        )
        for d in planned.deployments
    ]
    return store.create_campaign(planned.settings, campaign.firmware, deployments), False


def build_backends(config: Config, names: Iterable[str]) -> dict[str, Backend]:
    """The adapters of the configured back ends `names`; ConfigError naming the one that cannot be built."""
    built: dict[str, Backend] = {}
    try:
        for name in sorted(set(names)):
            built[name] = make_backend(name, config.backend(name))
    except BaseException:
        for backend in built.values():
            backend.close()
        raise
    return built


def build_runner(
    config: Config,
    store: Store,
    backends: dict[str, Backend],
    *,
    name: str | None = None,
    lease: timedelta = LEASE,
    clock: Clock | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Runner:
    """The Runner over `backends`, with every `[backends.NAME]` policy of the configuration: poll_interval,
    give_up_after, max_concurrent. The only place a Runner is built."""
    backends_config = config.backends
    options: dict[str, Any] = {"clock": clock} if clock is not None else {}
    if sleep is not None:
        options["sleep"] = sleep
    return Runner(
        store,
        backends,
        poll_interval={n: b.poll_interval for n, b in backends_config.items()},
        give_up_after={n: b.give_up_after for n, b in backends_config.items()},
        max_concurrent={n: b.max_concurrent for n, b in backends_config.items() if b.max_concurrent},
        name=name,
        lease=lease,
        **options,
    )


def _backend_names(store: Store, campaign_id: int) -> set[str]:
    return {d.backend for d in store.deployments(campaign_id)}


def run(
    config: Config, store: Store, campaign_id: int, *, on_progress: Callable[[], None] | None = None
) -> CampaignState:
    """Drive the stored campaign to its end in this process; its final state. Safe to call again after a crash:
    every step is stored before it acts. Raises AuthError when a back end refuses the credentials (the campaign is
    kept, resumable once the configuration is fixed)."""
    backends = build_backends(config, _backend_names(store, campaign_id))
    try:
        return build_runner(config, store, backends).run(campaign_id, on_progress=on_progress)
    finally:
        for backend in backends.values():
            backend.close()


def abort(
    config: Config,
    store: Store,
    campaign_id: int,
    cause: str,
    *,
    backends: dict[str, Backend] | None = None,
) -> CampaignState:
    """Stop every open deployment of the campaign on its back end (with the back ends given, else built and closed
    here); devices keep their last stage. Returns the campaign's state afterwards."""
    owned = backends is None
    used = build_backends(config, _backend_names(store, campaign_id)) if backends is None else backends
    try:
        return build_runner(config, store, used).abort(campaign_id, cause)
    finally:
        if owned:
            for backend in used.values():
                backend.close()
