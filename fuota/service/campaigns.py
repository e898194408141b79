"""The use cases every front end calls: plan, launch, run, abort and retry a campaign — and the one place where the
Runner is built from the configuration, so that every limit and policy of `[backends.NAME]` applies the same to
`fuota run`, `fuota abort`, `fuota daemon` and the dashboard.

    plan(config, campaign, check=…)     the deployments a campaign fans out into, and its settings: sends nothing
                                        (check: also ask the back end, read-only, what it can tell — `fuota plan`)
    forecast(config, plan, …)           what `fuota plan` shows: pacing, duty cycle, duration, share decoding,
                                        checks, warnings and advice (fuota.service.forecasting)
    duty_cycle_issues(config, plan, …)  the duty-cycle warnings; ConfigError when strict (plan and launch)
    launch(store, plan)                 store it in Scheduled, or find the campaign of that name to resume
    build_runner(config, store, …)      the Runner, with the configuration's poll intervals, give-up times and limits
    run(config, store, campaign_id)     drive a stored campaign to its end in this process
    abort(config, store, campaign_id)   stop it on its back ends
    retry(config, store, campaign_id)   the devices of a finished campaign that did not update, as a new campaign

Everything is checked before anything is stored (DESIGN.md §4): ConfigError names the field, the value and what to
do, and nothing is written then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

from fuota.backends.base import Backend
from fuota.backends.registry import make_backend
from fuota.campaign import Campaign, CampaignFile
from fuota.config import Config
from fuota.core.model import CampaignState, Outcome
from fuota.core.settings import ConfigError
from fuota.service.forecasting import duty_cycle_issues, forecast
from fuota.service.planned import CampaignPlan, plan
from fuota.service.runner import LEASE, Clock, Runner
from fuota.store import CampaignRecord, NewDeployment, Store

__all__ = [
    "CampaignPlan",
    "abort",
    "build_backends",
    "build_runner",
    "duty_cycle_issues",
    "forecast",
    "launch",
    "plan",
    "retry",
    "run",
]


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


def retry(config: Config, store: Store, campaign_id: int) -> tuple[CampaignPlan, int] | None:
    """The devices of the ended campaign that did not end updated, planned as a new campaign NAME.retryN with the
    same settings and the image stored at launch (still checked against the file it came from); None when every
    device updated. Launch the plan to store it. ConfigError when the campaign has not ended or cannot be retried."""
    record = store.campaign(campaign_id)
    if record is None:
        raise ConfigError(f"campaign {campaign_id} does not exist; `fuota list` shows the campaigns")
    if not record.state.ended:
        raise ConfigError(f"campaign {record.id} ({record.name}) is {record.state}; retry it once it has ended")
    devices = tuple(d.dev_eui for d in store.devices(campaign_id=record.id) if d.outcome is not Outcome.UPDATED)
    if not devices:
        return None
    taken = {r.name for r in store.campaigns()}
    name = next(f"{record.name}.retry{n}" for n in range(1, 1000) if f"{record.name}.retry{n}" not in taken)
    settings = record.settings
    source = Path(settings.firmware_path) if settings.firmware_path else None
    file = CampaignFile.model_validate(
        {
            "name": name,
            "firmware": settings.firmware_path or "(the image stored at launch)",
            "backend": settings.backend,
            "devices": list(devices),
            "redundancy_percent": settings.redundancy_percent,
            "window": settings.window,
            "success_threshold": settings.success_threshold,
            "expected_loss": settings.expected_loss,
            settings.kind: dict(settings.target),  # the completed table it was launched with
        }
    )
    campaign = Campaign(file=file, firmware=store.firmware(record.id), devices=devices, firmware_path=source)
    return plan(config, campaign), len(devices)
