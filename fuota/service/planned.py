"""A campaign as `fuota plan` found it and `fuota launch` stores it: the settings and the deployments."""

from __future__ import annotations

from dataclasses import dataclass

from fuota.backends.base import DeploymentPlan
from fuota.campaign import Campaign
from fuota.core.settings import CampaignSettings

__all__ = ["CampaignPlan"]


@dataclass(frozen=True)
class CampaignPlan:
    """A campaign as it would be sent: its settings as they will be stored, and its deployments."""

    campaign: Campaign
    settings: CampaignSettings
    deployments: list[DeploymentPlan]
    checks: tuple[str, ...] = ()  # what the back end was asked, read-only, by `plan(…, check=True)`
