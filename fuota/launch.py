"""From a validated campaign to stored deployments: planning, and launching (or resuming) by name.

Everything is checked before anything is stored (DESIGN.md §4): the back end exists in the configuration and has
a token, the fragmentation plan fits TS004's limits. A campaign is identified by its name: launching a name that
exists and has not ended resumes it; a name that has ended is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import codec
from fuota.campaign import Campaign
from fuota.config import Config, ConfigError
from fuota.store import CampaignRecord, NewDeployment, Store

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

    def as_dict(self) -> dict[str, object]:
        """The plan as JSON-ready data."""
        p = self.plan
        return {
            "task_name": self.task_name,
            "backend": self.backend,
            "target": self.target or "(new group)",
            "temporary": self.temporary,
            "devices": len(self.devices),
            "frag_plan": {
                "nb_frag": p.nb_frag,
                "frag_size": p.frag_size,
                "padding": p.padding,
                "redundancy": p.redundancy,
                "fragments": p.total,
            },
        }


def plan_campaign(campaign: Campaign, config: Config) -> list[DeploymentPlan]:
    """The deployments the campaign fans out into; ConfigError when it cannot be sent as written."""
    backend = config.backend(campaign.file.backend)
    backend.secret(campaign.file.backend)
    try:
        frag = codec.plan(
            len(campaign.firmware),
            campaign.target.frag_size,
            percent=campaign.file.redundancy_percent,
            rounding=codec.Rounding.IOTSQUARE,
        )
    except codec.PlanError as exc:
        raise ConfigError(f"firmware of {len(campaign.firmware)} bytes cannot be fragmented: {exc}") from exc
    return [
        DeploymentPlan(f"{campaign.name}-{index + 1}", campaign.file.backend, target, target is None, devices, frag)
        for index, (target, devices) in enumerate(campaign.groups())
    ]


def launch(store: Store, campaign: Campaign, config: Config) -> tuple[CampaignRecord, bool]:
    """Store the campaign in Scheduled, or find the one of the same name to resume; (record, resumed)."""
    plans = plan_campaign(campaign, config)
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
    spec["iotsquare"] = campaign.target.model_dump(mode="json")
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
