"""The rows the runner writes (issue 16 item 5): none on a poll where nothing changed, O(1) per device change.

Counted with an SQLAlchemy listener on the store's engine (rows inserted, updated or deleted by each statement),
against the back end in memory and a SQLite file, the clock in the test's hands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from fuota.core.model import CampaignState
from fuota.store import Store
from tests.support.memory_backend import MemoryBackend
from tests.support.store_helpers import Clock
from tests.unit.test_runner import drive, euis, launch, runner


class Rows:
    """Rows written through an engine since the listener was added: in all, and by the lease stamps alone."""

    def __init__(self) -> None:
        self.written = 0
        self.leases = 0

    def __call__(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE") and cursor.rowcount > 0:
            self.written += cursor.rowcount
            if statement.startswith("UPDATE deployments SET lease_owner=?, lease_until=?"):
                self.leases += cursor.rowcount


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[Store]:
    with Store(f"sqlite:///{tmp_path / 'fuota.db'}", clock=clock) as opened:
        yield opened


def counted(store: Store) -> Rows:
    rows = Rows()
    event.listen(store._db._engine, "after_cursor_execute", rows)
    return rows


def test_polls_where_nothing_changed_write_no_row(store: Store, clock: Clock) -> None:
    # No device joins its group: the runner polls the group again and again and nothing changes.
    backend = MemoryBackend(joined=set())
    cid = launch(store, [euis(40), euis(40, first=100)], join_timeout=3600)
    run = runner(store, backend, clock)
    for _ in range(5):  # the groups prepared, their members stored, the waiting begun
        run.tick(cid)
        clock.advance(1)
    rows, polls = counted(store), backend.count("ready")
    for _ in range(20):
        run.tick(cid)
        clock.advance(1)
    assert backend.count("ready") - polls >= 40  # it did poll: two groups, every second
    # Nothing but the leases, stamped again once a quarter of the 30 s lease has passed: by the clock, not by poll.
    assert rows.written == rows.leases <= 2 * (20 // 7.5 + 1)


@pytest.mark.parametrize("devices", [10, 80])
def test_rows_written_grow_with_the_device_changes_not_faster(store: Store, clock: Clock, devices: int) -> None:
    backend = MemoryBackend()
    cid = launch(store, [euis(devices)])
    rows = counted(store)
    run = runner(store, backend, clock)
    assert drive(run, cid, clock) is CampaignState.DONE
    # Each device is stored, then moves through multicast set-up, ready, receiving and done (one row each, and one
    # event row each): a handful of rows a device, plus a fixed number for the deployment and the campaign.
    assert rows.written <= 10 * devices + 40
