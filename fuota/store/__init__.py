"""fuota's persistence: campaigns, deployments, devices and events, in SQLite by default or any database by URL.

`Store(url)` opens the database and brings its schema to the latest migration (fuota/store/migrations, run by Alembic
from code). Every method is one transaction; `apply` writes everything one engine step produced — the
deployment's new fields, its events, and only the device rows that changed — or nothing at all.

    StoreError                   the database refused or could not be reached; the message says what to do
    ├── DuplicateCampaign        a campaign of that name exists already (the caller decides whether to resume)
    ├── NotFound                 no campaign or deployment with that id
    └── StaleState               the deployment is not in the state the caller expected: another writer moved it
        └── LeaseLost            another runner holds the deployment's lease now (fuota/store/leases.py)

SQLAlchemy's errors are translated at the edge (`raise … from exc`). Misuse — an invalid enum value, a naive
datetime, raw fields JSON cannot hold — raises ValueError or TypeError instead, and writes nothing either.
Timestamps go in and come out as timezone-aware UTC. How runners share deployments is fuota/store/leases.py; how a
Scheduled campaign that sent nothing gets new settings (`fuota launch --update`) is fuota/store/updates.py.
"""

from fuota.store.db import DuplicateCampaign, LeaseLost, NotFound, StaleState, StoreError, alembic_config
from fuota.store.records import (
    CampaignRecord,
    DeploymentRecord,
    DeviceRecord,
    EventKind,
    EventRecord,
    NewDeployment,
    NewEvent,
)
from fuota.store.writes import Store

__all__ = [
    "CampaignRecord",
    "DeploymentRecord",
    "DeviceRecord",
    "DuplicateCampaign",
    "EventKind",
    "EventRecord",
    "LeaseLost",
    "NewDeployment",
    "NewEvent",
    "NotFound",
    "StaleState",
    "Store",
    "StoreError",
    "alembic_config",
]
