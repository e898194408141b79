"""Opening a store on a SQLite file: errors name the URL without its password, and a database of the first schema
is migrated, keeping its campaigns."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command

from fuota.store import Store, StoreError, alembic_config

LEASE = timedelta(seconds=30)


def test_errors_name_the_url_without_its_password(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"sqlite:///.*/missing/fuota\.db.*folder exists"):
        Store(f"sqlite:///{tmp_path / 'missing' / 'fuota.db'}")
    with pytest.raises(StoreError, match=r"\*\*\*") as info:
        Store("nosuchdb+nodriver://fuota:s3cret@db.example/fuota")
    assert "s3cret" not in str(info.value)
    with pytest.raises(StoreError, match="not valid"):
        Store("not a url")


def test_a_database_of_the_first_schema_gains_leases_and_keeps_its_campaigns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0001")
    with sqlite3.connect(tmp_path / "old.db") as db:
        db.execute(
            "INSERT INTO campaigns (id, name, state, spec, firmware, firmware_sha256, firmware_size, created_at, "
            "updated_at) VALUES (1, 'old', 'Running', '{}', x'00', 'x', 1, '2026-11-01 00:00:00', "
            "'2026-11-01 00:00:00')"
        )
        db.execute(
            "INSERT INTO deployments (id, campaign_id, backend, task_name, state, temporary, created_at, updated_at)"
            " VALUES (1, 1, 'iot', 'fuota-old-0', 'EnqueueFragment', 1, '2026-11-01 00:00:00', '2026-11-01 00:00:00')"
        )
    with Store(url) as store:
        (record,) = store.deployments(1)
        assert (record.task_name, record.lease_owner, record.lease_until) == ("fuota-old-0", None, None)
        assert store.claim_deployments("a", LEASE, campaign_id=1) == {1}


def test_the_head_a_store_is_opened_at_without_alembic_is_alembics_head(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    from fuota.store.db import HEAD

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD
    with Store(f"sqlite:///{tmp_path / 'new.db'}") as store:  # a new store is migrated to it
        assert store._db.revision() == HEAD


def test_a_store_of_a_newer_fuota_is_refused_saying_to_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    Store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError, match="newer fuota"):
        Store(f"sqlite:///{path}")
