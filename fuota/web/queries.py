"""What the campaign pages show: pieces of the read model (fuota.views) put together per page, as one JSON-ready
dict that the page renders and its JSON twin returns as it is, so the two cannot disagree. The device table and
the device page are the read model's own (fuota.views.rows.devices_page, device_page).

Every number and key is the read model's: counts are grouped and the device table paged in SQL, so a campaign of
10 000 devices costs a few small queries per refresh.
"""

from __future__ import annotations

from typing import Any

from fuota.store import CampaignRecord, EventKind, Store
from fuota.views.family import family_data
from fuota.views.model import campaign_list, campaign_overview
from fuota.views.rows import DeviceFilter, devices_page, latest_events

__all__ = ["TIMELINE", "campaign_data", "campaigns_data"]

TIMELINE = 50  # latest events on the campaign page; device events have their own page


def campaigns_data(store: Store) -> dict[str, Any]:
    """The campaigns page: every campaign row, newest first."""
    return {"campaigns": campaign_list(store)}


def campaign_data(store: Store, campaign: CampaignRecord, table: DeviceFilter) -> dict[str, Any]:
    """The campaign page: the campaign summary's keys, its reasons and deployment rows, its family total (the
    campaign with its retries), the latest events other than device changes, and the device table's current
    page."""
    overview = campaign_overview(store, campaign.id)
    return {
        **overview["summary"],
        "reasons": overview["reasons"],
        "deployments": overview["deployments"],
        "family": family_data(store, campaign.id, overview["summary"]),
        "events": latest_events(store, campaign.id, skip=[EventKind.DEVICE], limit=TIMELINE),
        "table": devices_page(store, campaign, table),
    }
