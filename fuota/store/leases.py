"""Leases: how several runners (daemons) on one database divide the open deployments between them.

A deployment is driven by the runner named in its `lease_owner` while `lease_until` lies ahead. A runner claims
deployments that nobody holds, that it holds already, or whose lease expired (its runner died or hung), and
renews what it holds well before the lease ends. Runners announce themselves in the `runners` table with a
heartbeat; a runner takes new deployments only up to its fair share (the open deployments divided by the runners
seen within a lease), so that daemons started together divide a campaign instead of the first taking it all.

The rows are picked with `SELECT … FOR UPDATE SKIP LOCKED`:
on PostgreSQL two runners claiming at once never wait for, nor take, the same row; SQLite ignores the clause and
serialises writers instead (BEGIN IMMEDIATE), which gives the same result.

Every write of a deployment's step names its runner (`Store.apply(lease_owner=…)`), and is refused with
LeaseLost when another runner took the deployment meanwhile: a runner that stalled past its lease cannot
overwrite the work of the one that took over.

Times are the store's clock (the runners' machines' clocks): keep them synchronised (NTP); a lease of 30 s
tolerates seconds of skew.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from fuota.core.model import DeploymentState
from fuota.store import schema
from fuota.store.records import EventKind, NewEvent

__all__ = ["DEFAULT_LEASE", "Claim", "admit", "claim", "heartbeat", "release", "renew"]

# How long a deployment stays with its runner after the runner last claimed or renewed it, unless the runner says
# otherwise (`fuota daemon --lease-seconds`). The read model measures "driven" against it (fuota/views/schedule.py).
DEFAULT_LEASE = timedelta(seconds=30)

_OPEN = [s.value for s in DeploymentState if not s.ended]
_deployments = schema.deployments


@dataclass(frozen=True, slots=True)
class Claim:
    """What a claim gave: every deployment the runner now holds, and the take-overs to record."""

    held: frozenset[int]
    taken_over: tuple[tuple[int, int, NewEvent], ...]  # (campaign id, deployment id, event)


def claim(
    conn: Connection,
    owner: str,
    now: datetime,
    ttl: timedelta,
    *,
    campaign_id: int | None = None,
    fair: bool = True,
    force: bool = False,
    dead: frozenset[str] = frozenset(),
) -> Claim:
    """Hold, until `now + ttl`, the open deployments (of `campaign_id`, or all) that `owner` holds already, plus
    more that nobody holds or whose lease expired: with `fair`, only up to `owner`'s fair share of the open
    deployments. `force` takes every open one, whoever holds it (an abort must reach deployments a daemon
    drives). Leases of the runners named in `dead` count as expired (the caller knows those processes ended).
    A lease `owner` holds already is stamped again only when less than three quarters of `ttl` are left on it."""
    stmt = select(
        _deployments.c.id,
        _deployments.c.campaign_id,
        _deployments.c.task_name,
        _deployments.c.lease_owner,
        _deployments.c.lease_until,
    ).where(_deployments.c.state.in_(_OPEN))
    if campaign_id is not None:
        stmt = stmt.where(_deployments.c.campaign_id == campaign_id)
    if not force:
        stmt = stmt.where(
            or_(
                _deployments.c.lease_owner.is_(None),
                _deployments.c.lease_owner == owner,
                _deployments.c.lease_until.is_(None),
                _deployments.c.lease_until < now,
                _deployments.c.lease_owner.in_(dead),
            )
        )
    rows = conn.execute(stmt.order_by(_deployments.c.id).with_for_update(skip_locked=True)).all()
    mine = [r for r in rows if r.lease_owner == owner]
    others = [r for r in rows if r.lease_owner != owner]
    if fair and not force:
        others = others[: max(0, _fair_share(conn, owner, now, ttl, campaign_id) - len(mine))]
    taken = mine + others
    # A lease of its own is stamped again only once a quarter of it has passed (as `renew` does): a runner that
    # claims at every pass would otherwise write every deployment it holds at every poll.
    fresh = now + ttl * 3 / 4
    stamped = [r.id for r in others] + [r.id for r in mine if r.lease_until is None or r.lease_until < fresh]
    if stamped:
        conn.execute(
            update(_deployments).where(_deployments.c.id.in_(stamped)).values(lease_owner=owner, lease_until=now + ttl)
        )
    taken_over = tuple(
        (r.campaign_id, r.id, _takeover_event(r.task_name, owner, r.lease_owner, r.lease_until, now, force, dead))
        for r in others
        if r.lease_owner is not None
    )
    return Claim(frozenset(r.id for r in taken), taken_over)


def heartbeat(conn: Connection, owner: str, now: datetime) -> None:
    """Tell the other runners that `owner` is alive (and so counts in the fair share)."""
    seen = conn.execute(update(schema.runners).where(schema.runners.c.name == owner).values(seen_at=now))
    if seen.rowcount == 0:
        conn.execute(insert(schema.runners).values(name=owner, started_at=now, seen_at=now))


def _fair_share(conn: Connection, owner: str, now: datetime, ttl: timedelta, campaign_id: int | None) -> int:
    alive = set(conn.scalars(select(schema.runners.c.name).where(schema.runners.c.seen_at >= now - ttl)))
    stmt = select(func.count()).select_from(_deployments).where(_deployments.c.state.in_(_OPEN))
    if campaign_id is not None:
        stmt = stmt.where(_deployments.c.campaign_id == campaign_id)
    open_count = conn.scalar(stmt) or 0
    runners = len(alive | {owner})
    return -(-open_count // runners)


def renew(conn: Connection, owner: str, now: datetime, ttl: timedelta) -> int:
    """Push back the end of every lease `owner` holds on an open deployment; how many it holds."""
    result = conn.execute(
        update(_deployments)
        .where(_deployments.c.lease_owner == owner, _deployments.c.state.in_(_OPEN))
        .values(lease_until=now + ttl)
    )
    return result.rowcount


def release(conn: Connection, owner: str) -> int:
    """Give up every lease `owner` holds (a daemon stopping cleanly), so another runner need not wait; how many
    of them were on open deployments (ended ones keep their last owner's name until now, and are no work left)."""
    conn.execute(delete(schema.runners).where(schema.runners.c.name == owner))
    left = conn.scalar(
        select(func.count())
        .select_from(_deployments)
        .where(_deployments.c.lease_owner == owner, _deployments.c.state.in_(_OPEN))
    )
    conn.execute(
        update(_deployments).where(_deployments.c.lease_owner == owner).values(lease_owner=None, lease_until=None)
    )
    return left or 0


def _takeover_event(
    task: str, owner: str, previous: str, until: datetime | None, now: datetime, force: bool, dead: frozenset[str]
) -> NewEvent:
    if force:
        cause = f"{owner} takes {task} over from {previous} to stop it"
    elif previous in dead:
        cause = f"{owner} takes {task} over from {previous}, a process of this machine that ended"
    else:
        late = "" if until is None else f" {(now - until).total_seconds():.0f} s ago"
        cause = f"{owner} takes {task} over from {previous}, whose lease expired{late}"
    return NewEvent(EventKind.LEASE, cause, at=now)


def admit(conn: Connection, deployment_id: int, backend: str, limit: int | None, now: datetime) -> bool:
    """Let the deployment begin acting on `backend` if fewer than `limit` of its deployments are under way (begun,
    not ended), whichever runner drives them; True when it may (also when it had begun already: a runner that
    took it over, or restarted, goes on). The open deployments of the back end are locked while counting, so two
    runners admitting at once cannot both take the last place."""
    rows = conn.execute(
        select(_deployments.c.id, _deployments.c.state, _deployments.c.started_at)
        .where(_deployments.c.backend == backend, _deployments.c.state.in_(_OPEN))
        .order_by(_deployments.c.id)  # one locking order for every runner: no deadlock between two admits
        .with_for_update()
    ).all()
    mine = next((r for r in rows if r.id == deployment_id), None)
    if mine is None:
        return False  # ended meanwhile
    if mine.started_at is not None:
        return True
    begun = sum(r.started_at is not None or r.state != DeploymentState.SCHEDULED.value for r in rows)
    if limit is not None and begun >= limit:
        return False
    conn.execute(update(_deployments).where(_deployments.c.id == deployment_id).values(started_at=now))
    return True
