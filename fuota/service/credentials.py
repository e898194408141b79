"""What the runner does when a back end refuses a deployment's credentials once its work there has begun.

A token expires or is revoked mid-campaign (IoTSquare 1003/1004 "please log in again"); the operator rotates it
(token_file, token_env) and the running process picks it up at its next call. Meanwhile the deployment neither
stops the run nor fails: it waits in a visible state —

    the first refusal          a "credentials" event "credentials refused since <time>: <the answer>" (to_state
                               "refused"), and a warning in the log
    each refusal after it      nothing stored; a log line at most once a minute
    a call that succeeds       a "credentials" event "credentials accepted again after N s" (to_state "accepted")
    refused for give_up_after  the deployment fails with the reason (BackendFailed)

The read model shows the wait as `credentials_refused_since` (fuota.views.credentials, from the same events), and
a runner started again carries an ongoing wait over from them, its give_up_after counted from the first refusal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from fuota.backends.errors import AuthError
from fuota.core.messages import BackendFailed
from fuota.store import CampaignRecord, DeploymentRecord, EventKind, NewEvent, Store
from fuota.views.credentials import ACCEPTED, REFUSED

__all__ = ["LOG_EVERY", "Refusal", "accepted", "refused"]

LOG_EVERY = timedelta(minutes=1)  # at most one log line per deployment this often while refused

log = logging.getLogger("fuota.runner")


@dataclass
class Refusal:
    """A deployment's credentials refused at every call since `since`; `logged_at`: its last log line."""

    since: datetime
    logged_at: datetime | None = None


def refused(
    store: Store,
    campaign: CampaignRecord,
    record: DeploymentRecord,
    refusal: Refusal | None,
    exc: AuthError,
    now: datetime,
    give_up_after: float,
) -> tuple[Refusal, BackendFailed | None]:
    """One more refusal of `record`'s credentials: the refusal as it now stands, and BackendFailed once it has
    lasted `give_up_after` seconds (else None: wait, and call again at the next deadline)."""
    where = f"campaign {campaign.id} ({campaign.name}): {record.task_name}"
    if refusal is None:
        refusal = Refusal(now)
        cause = (
            f"{record.task_name}: credentials refused since {now.isoformat(timespec='seconds')}: {exc}; waiting for a "
            f"valid token (rewrite the token_file, or the token_env variable), for at most {give_up_after:g} s"
        )
        event = NewEvent(EventKind.CREDENTIALS, cause, from_state=ACCEPTED, to_state=REFUSED, at=now)
        store.record_event(campaign.id, event, deployment_id=record.id)
    waited = (now - refusal.since).total_seconds()
    if waited >= give_up_after:
        log.error("%s: credentials refused for %.0f s, giving up: %s", where, waited, exc)
        return refusal, BackendFailed(
            f"credentials refused for {waited:.0f} s (give_up_after = {give_up_after:g} s), giving up: {exc}"
        )
    if refusal.logged_at is None or now - refusal.logged_at >= LOG_EVERY:
        refusal.logged_at = now
        log.warning("%s: credentials refused since %s: %s; waiting", where, refusal.since.isoformat(), exc)
    return refusal, None


def accepted(store: Store, campaign: CampaignRecord, record: DeploymentRecord, refusal: Refusal, now: datetime) -> None:
    """A call with `record`'s credentials succeeded after `refusal`: say so, once."""
    waited = (now - refusal.since).total_seconds()
    cause = f"{record.task_name}: credentials accepted again after {waited:.0f} s refused"
    event = NewEvent(EventKind.CREDENTIALS, cause, from_state=REFUSED, to_state=ACCEPTED, at=now)
    store.record_event(campaign.id, event, deployment_id=record.id)
    log.info("campaign %s (%s): %s", campaign.id, campaign.name, cause)
