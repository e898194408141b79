"""The read model's credentials fact: since when a back end refuses a deployment's credentials.

    credentials_refused_since   of an open deployment: the time of its latest "credentials" event when that event
                                is a refusal (to_state REFUSED), i.e. the back end has refused the token (IoTSquare
                                1003/1004) at every call since and the runner waits for a good one; None otherwise —
                                never refused, accepted again (to_state ACCEPTED), or the deployment ended

The runner (fuota.service.runner) writes the events, once when a refusal starts and once when a call succeeds again,
and reads this same fact to carry a wait over a restart. Derived from the events alone: nothing else is stored.
"""

from __future__ import annotations

from datetime import datetime

from fuota.store import EventKind, Store

__all__ = ["ACCEPTED", "REFUSED", "refused_since"]

REFUSED = "refused"  # to_state of the event that starts a refusal
ACCEPTED = "accepted"  # to_state of the event that ends it


def refused_since(store: Store, campaign_id: int) -> dict[int, datetime]:
    """{deployment id: when the refusal began} for each deployment of the campaign whose credentials are refused
    now, as its latest "credentials" event says (whether the deployment ended is the caller's to weigh)."""
    latest: dict[int, tuple[str | None, datetime]] = {}
    for event in store.events(campaign_id, EventKind.CREDENTIALS):  # oldest first: the last one wins
        if event.deployment_id is not None:
            latest[event.deployment_id] = (event.to_state, event.at)
    return {deployment: at for deployment, (state, at) in latest.items() if state == REFUSED}
