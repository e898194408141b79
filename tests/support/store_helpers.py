"""What the store's tests share: a clock moved by hand, sample EUIs, and sample deployments and campaigns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fuota.core.settings import CampaignSettings
from fuota.store import NewDeployment, Store

EUIS = [f"70b3d5e75e00{i:04x}" for i in range(6)]
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 1) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def campaign_settings(name: str = "spring", **fields: object) -> CampaignSettings:
    """The settings of an IoTSquare campaign `name` sent through back end "iot" at 30 % redundancy, with `fields`."""
    values: dict[str, object] = {"name": name, "backend": "iot", "kind": "iotsquare", "redundancy_percent": 30}
    return CampaignSettings.model_validate(values | fields)


def deployment(n: int = 0, devices: list[str] = EUIS[:3], campaign: str = "spring") -> NewDeployment:
    """A temporary-group IoTSquare deployment `n` of `campaign`."""
    return NewDeployment(
        backend="iotsquare",
        target=None,
        task_name=f"fuota-{campaign}-{n}",
        temporary=True,
        devices=devices,
        plan={"nb_frag": 287, "frag_size": 48, "padding": 39, "redundancy": 86},
    )


def new_campaign(store: Store, name: str = "spring", firmware: bytes = b"\x00image\xff") -> tuple[int, int]:
    """A campaign with one deployment of three devices; returns (campaign id, deployment id)."""
    campaign = store.create_campaign(
        campaign_settings(name, target={"region": "EU868"}), firmware, [deployment(campaign=name)]
    )
    return campaign.id, store.deployments(campaign.id)[0].id
