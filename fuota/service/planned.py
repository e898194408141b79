"""A campaign as `fuota plan` finds it and `fuota launch` stores it: the settings and the deployments.

    plan(config, campaign, check=…)   the CampaignPlan, checked by the back end's kind; sends and stores nothing

Kept apart from fuota.service.campaigns (which re-exports it) so that `fuota plan` imports no store: SQLAlchemy and
Alembic would take half a second of the dry run's two.
"""

from __future__ import annotations

from dataclasses import dataclass

from fuota.backends.base import DeploymentPlan, PlanRequest
from fuota.backends.registry import kind_of
from fuota.campaign import Campaign, table_of
from fuota.config import Config
from fuota.core.settings import DEFAULT_JOIN_TIMEOUT, CampaignSettings

__all__ = ["CampaignPlan", "plan"]


@dataclass(frozen=True)
class CampaignPlan:
    """A campaign as it would be sent: its settings as they will be stored, and its deployments."""

    campaign: Campaign
    settings: CampaignSettings
    deployments: list[DeploymentPlan]
    checks: tuple[str, ...] = ()  # what the back end was asked, read-only, by `plan(…, check=True)`


def plan(config: Config, campaign: Campaign, *, check: bool = False) -> CampaignPlan:
    """The deployments the campaign fans out into on its back end, and its settings; ConfigError when it cannot be
    sent as written. The back end's kind decides (fuota/backends/<vendor>/kind.py): IoTSquare, one deployment per
    multicast group; Milesight, one per gateway (asked over the broker, nothing is sent). With `check`, the kind
    also asks its back end what it can tell before sending (BackendKind.check: token, reachability, devices,
    groups): `fuota plan` is a dry run that finds what `run` would meet."""
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
    checks = tuple(kind.check(file.backend, backend, planned)) if check else ()
    return CampaignPlan(campaign, settings, planned.deployments, checks)
