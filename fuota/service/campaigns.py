"""From a validated campaign to stored deployments: planning, and launching (or resuming) by name.

Everything is checked before anything is stored (DESIGN.md §4): the back end exists in the configuration and has
a token, the fragmentation plan fits TS004's limits. A campaign is identified by its name: launching a name that
exists and has not ended resumes it; a name that has ended is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import codec
from fuota.backends.errors import BackendError
from fuota.campaign import Campaign, MilesightTarget
from fuota.config import Config, ConfigError, IoTSquareConfig, MilesightConfig
from fuota.core.model import normalize_eui
from fuota.planning.forecast import forecast
from fuota.store import CampaignRecord, NewDeployment, Store

Connect = Callable[[str, Any], Any]  # (backend name, its configuration) -> a connected back end

__all__ = ["DeploymentPlan", "launch", "plan_campaign"]


@dataclass(frozen=True)
class DeploymentPlan:
    """One deployment as it would be sent."""

    task_name: str
    backend: str
    target: str | None
    temporary: bool
    devices: tuple[str, ...]
    plan: codec.FragPlan
    options: dict[str, object]

    def as_dict(self, expected_loss: float = 0.1, start: datetime | None = None) -> dict[str, object]:
        """The deployment as `fuota plan --json` shows it; `plan` forecasts pacing, duration and decoding."""
        p = self.plan
        return {
            "task_name": self.task_name,
            "backend": self.backend,
            "target": self.target or "(new group)",
            "temporary": self.temporary,
            "devices": len(self.devices),
            "plan": forecast(p.nb_frag, p.frag_size, p.padding, p.redundancy, self.options, expected_loss, start),
        }


def _frag_plan(campaign: Campaign, frag_size: int, rounding: codec.Rounding) -> codec.FragPlan:
    try:
        return codec.plan(
            len(campaign.firmware), frag_size, percent=campaign.file.redundancy_percent, rounding=rounding
        )
    except codec.PlanError as exc:
        raise ConfigError(f"firmware of {len(campaign.firmware)} bytes cannot be fragmented: {exc}") from exc


def _iotsquare(campaign: Campaign, config: IoTSquareConfig) -> list[DeploymentPlan]:
    name = campaign.file.backend
    config.secret(name)
    target = campaign.file.iotsquare
    if target is None:
        raise ConfigError(
            f'backend {name!r} is IoTSquare: the campaign needs an [iotsquare] table (mc_eui = "…" '
            "or the temporary groups' parameters)"
        )
    if campaign.file.redundancy_percent < 10:
        raise ConfigError(
            f"redundancy_percent = {campaign.file.redundancy_percent:g} is out of range for IoTSquare: 10–100 "
            "(its redundancyPercent 0.1–1)"
        )
    frag = _frag_plan(campaign, target.frag_size, codec.Rounding.IOTSQUARE)
    if target.mc_eui is not None:
        groups: list[tuple[str | None, tuple[str, ...]]] = [(normalize_eui(target.mc_eui), campaign.devices)]
    else:
        size = target.group_size
        groups = [(None, campaign.devices[i : i + size]) for i in range(0, len(campaign.devices), size)]
    options = target.model_dump(mode="json")
    return [
        DeploymentPlan(f"{campaign.name}-{index + 1}", name, group, group is None, devices, frag, options)
        for index, (group, devices) in enumerate(groups)
    ]


def _milesight(campaign: Campaign, config: MilesightConfig, connect: Connect) -> list[DeploymentPlan]:
    name = campaign.file.backend
    target = campaign.file.milesight or MilesightTarget()
    gateways = target.gateways or config.gateways
    if not gateways:
        raise ConfigError(f"no gateway to send through: list them in [milesight] gateways or backends.{name}.gateways")
    frag = _frag_plan(campaign, target.fragment_size, codec.Rounding.CHIRPSTACK)
    backend = connect(name, config)
    try:
        options = backend.task_options(gateways[0], target.model_dump(mode="json"))
        located = backend.locate(gateways, list(campaign.devices))
    except BackendError as exc:
        raise ConfigError(f"gateways = {gateways} (backend {name!r}): {exc}") from exc
    finally:
        backend.close()
    unknown = [eui for eui, gateway in located.items() if gateway is None]
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise ConfigError(
            f"devices: {shown} known to none of the gateways {', '.join(gateways)}; remove them or "
            "add them to a gateway's network server"
        )
    per_gateway = {g: tuple(d for d in campaign.devices if located[d] == g) for g in gateways}
    return [
        DeploymentPlan(f"{campaign.name}-{gateway}", name, gateway, False, devices, frag, options)
        for gateway, devices in per_gateway.items()
        if devices
    ]


def plan_campaign(campaign: Campaign, config: Config, connect: Connect | None = None) -> list[DeploymentPlan]:
    """The deployments the campaign fans out into; ConfigError when it cannot be sent as written.

    IoTSquare: one per multicast group (an existing one, or temporary groups of at most 253 devices). Milesight:
    one per gateway, each device sent through the gateway that knows it (asked over the broker: nothing is sent).
    """
    backend = config.backend(campaign.file.backend)
    if isinstance(backend, IoTSquareConfig):
        return _iotsquare(campaign, backend)
    if connect is None:
        from fuota.backends.registry import make_backend as connect
    return _milesight(campaign, backend, connect)


def launch(store: Store, campaign: Campaign, plans: list[DeploymentPlan]) -> tuple[CampaignRecord, bool]:
    """Store the campaign with its planned deployments in Scheduled, or find the one of the same name to resume;
    returns (record, resumed). Plan first (`plan_campaign`): nothing is stored when planning fails."""
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
    spec = campaign.file.model_dump(mode="json")
    spec["options"] = plans[0].options if plans else {}
    if campaign.firmware_path is not None:
        spec["firmware_path"] = str(campaign.firmware_path)
    record = store.create_campaign(
        campaign.name,
        spec,
        campaign.firmware,
        [
            NewDeployment(
                backend=p.backend,
                target=p.target,
                task_name=p.task_name,
                temporary=p.temporary,
                devices=list(p.devices),
                plan={
                    "nb_frag": p.plan.nb_frag,
                    "frag_size": p.plan.frag_size,
                    "padding": p.plan.padding,
                    "redundancy": p.plan.redundancy,
                },
            )
            for p in plans
        ],
    )
    return record, False
