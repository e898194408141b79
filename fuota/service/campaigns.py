"""The use cases every front end calls: plan, launch, run and abort a campaign — and the one place where the
Runner is built from the configuration, so that every limit and policy of `[backends.NAME]` applies the same to
`fuota run`, `fuota abort`, `fuota daemon` and the dashboard.

    plan(config, campaign, check=…)     the deployments a campaign fans out into, and its settings: sends nothing
                                        (check: also ask the back end, read-only, what it can tell — `fuota plan`;
                                        fuota.service.planned, which imports no store)
    forecast(config, plan, …)           what `fuota plan` shows: pacing, duty cycle, duration, share decoding,
                                        checks, warnings and advice (fuota.service.forecasting)
    duty_cycle_issues(config, plan, …)  the duty-cycle warnings; ConfigError when strict (plan and launch)
    launch(store, plan, update=)        store it in Scheduled, or find the campaign of that name to resume (refused
                                        when the file now differs; --update while nothing was sent: relaunch.py),
                                        also when another process stored it a moment before (a launch race)
    build_runner(config, store, …)      the Runner, with the configuration's poll intervals, give-up times and limits
    run(config, store, campaign_id)     drive a stored campaign to its end in this process
    abort(config, store, campaign_id)   stop it on its back ends

`fuota retry` plans a family's next retry in fuota/service/retries.py.

Everything is checked before anything is stored (DESIGN.md §4): ConfigError names the field, the value and what to
do, and nothing is written then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from fuota.backends.base import Backend
from fuota.backends.registry import make_backend
from fuota.config import Config
from fuota.core.model import CampaignState
from fuota.service.forecasting import duty_cycle_issues, forecast
from fuota.service.planned import CampaignPlan, plan
from fuota.service.relaunch import new_deployments, relaunch
from fuota.service.runner import LEASE, Clock, Runner
from fuota.store import CampaignRecord, DuplicateCampaign, Store

__all__ = [
    "CampaignPlan",
    "abort",
    "build_backends",
    "build_runner",
    "duty_cycle_issues",
    "forecast",
    "launch",
    "plan",
    "run",
]


def launch(store: Store, planned: CampaignPlan, *, update: bool = False) -> tuple[CampaignRecord, bool]:
    """Store the planned campaign in Scheduled with its deployments, or find the one of the same name to resume;
    returns (record, resumed). A stored campaign that the plan now differs from is refused (ConfigError naming
    each difference), or with `update` given its settings are replaced while nothing was sent
    (fuota/service/relaunch.py). Plan first (`plan`): nothing is stored when planning fails."""
    existing = store.campaign(planned.campaign.name)
    if existing is None:
        try:
            return store.create_campaign(planned.settings, planned.campaign.firmware, new_deployments(planned)), False
        except DuplicateCampaign:
            # Another process (a second `fuota run` of the same file) stored it between our look-up and our insert:
            # resume its campaign as if it had been there first; the leases keep the two from driving a deployment
            # at once.
            existing = store.campaign(planned.campaign.name)
            if existing is None:
                raise
    return relaunch(store, existing, planned, update=update), True


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
    every step is stored before it acts. A back end that refuses the credentials before any task of the campaign
    exists fails that deployment with the reason (so the campaign ends Failed); once its work there has begun, the
    deployment waits for good credentials, failing after give_up_after (fuota.service.credentials)."""
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
