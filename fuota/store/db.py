"""How fuota's store talks to its database: the engine, SQLite's settings, migrations, and error translation.

The exceptions of `fuota.store` (its docstring draws the tree) are defined here, since the translation of
SQLAlchemy's errors at the edge (`raise … from exc`) happens here.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
    StatementError,
)

from fuota.store.file_mode import make_private_sqlite_file

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["Database", "DuplicateCampaign", "LeaseLost", "NotFound", "StaleState", "StoreError", "alembic_config"]

MIGRATIONS = Path(__file__).with_name("migrations")
# The newest revision in migrations/versions (a unit test checks it against Alembic's head). A store already there
# is opened without importing Alembic, which costs a fifth of a second to every CLI command, and without waiting for
# the write lock a migration takes.
HEAD = "0008"
SQLITE_BUSY_TIMEOUT_MS = 15_000
_WRITE = "fuota_write"  # execution option marking a connection that will write (see _configure_sqlite)
_MIGRATION_LOCK_KEY = 0x0F0_07A  # PostgreSQL advisory lock of fuota's migrations (any constant, fuota's own)
_MIGRATING = threading.Lock()


class StoreError(Exception):
    """The database refused an operation or could not be reached."""


class DuplicateCampaign(StoreError):
    """A campaign of that name exists already."""


class NotFound(StoreError):
    """No campaign or deployment with that id."""


class StaleState(StoreError):
    """The deployment is not in the state the caller expected: another writer changed it first."""


class LeaseLost(StaleState):
    """Another runner holds the deployment's lease now: the caller must stop driving it."""


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration for fuota's migrations, built without alembic.ini.

    The store passes its own connection; give `url` to run Alembic commands (say, `command.revision`) by hand.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # configparser interpolates "%"
    return config


class Database:
    """An engine with fuota's settings, whose transactions raise StoreError instead of SQLAlchemy's errors."""

    def __init__(self, url: str) -> None:
        """Create the engine for `url`; no connection is made yet."""
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            # The text may hold a password, so it is not repeated.
            raise StoreError("the database URL is not valid: expected e.g. sqlite:///fuota.db") from exc
        self.url = parsed.render_as_string(hide_password=True)
        """The URL with its password hidden, for messages."""
        # A server may restart under a long-running daemon: test pooled connections before handing them out.
        pooling = {} if parsed.get_backend_name() == "sqlite" else {"pool_pre_ping": True}
        if parsed.get_backend_name() == "sqlite":
            make_private_sqlite_file(parsed)
        try:
            self._engine = create_engine(parsed, **pooling)
        except (ArgumentError, ImportError) as exc:
            raise StoreError(f"cannot use {self.url}: {exc}; install the database driver the URL names") from exc
        if self._engine.dialect.name == "sqlite":
            _configure_sqlite(self._engine)
        self._writer = self._engine.execution_options(**{_WRITE: True})

    @contextmanager
    def transaction(self, what: str, *, write: bool = False) -> Iterator[Connection]:
        """A connection in a transaction, committed on success; `what` names the operation in error messages.
        Pass `write=True` when the transaction will write."""
        try:
            with (self._writer if write else self._engine).begin() as conn:
                yield conn
        except StatementError as exc:
            if isinstance(exc.orig, ValueError | TypeError):
                # A value no column can take (say, a naive datetime) is the caller's mistake, not the database's.
                raise type(exc.orig)(f"could not {what}: {exc.orig}") from exc
            raise self._translate(what, exc) from exc
        except SQLAlchemyError as exc:
            raise self._translate(what, exc) from exc

    def migrate(self) -> None:
        """Bring the schema to the latest revision; does nothing if it is there already. Stores opening the
        same database at once, in threads or processes, migrate it one after the other: the first takes the
        database's write lock (SQLite: BEGIN IMMEDIATE, waiting up to the busy timeout; PostgreSQL: an advisory
        lock), and Alembic reads the revision again inside it, so the others find it current and do nothing."""
        if self.revision() == HEAD:
            return
        from alembic import command
        from alembic.util import CommandError

        config = alembic_config()
        try:
            # Alembic's `context` and `op` are process-wide proxies: two migrations in threads would mix them up.
            with _MIGRATING, self.transaction("bring the schema up to date", write=True) as conn:
                if conn.dialect.name == "postgresql":
                    # SQLite's BEGIN IMMEDIATE already excludes other processes; PostgreSQL needs a lock, held
                    # until commit, so that a second daemon does not create the tables the first is creating.
                    conn.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        except CommandError as exc:
            raise StoreError(f"cannot migrate {self.url}: {exc}; was it made by a newer fuota? Upgrade fuota") from exc

    def revision(self) -> str | None:
        """The schema revision the database is at; None for a new database (or one of another program)."""
        with self.transaction("read the schema revision") as conn:
            if not self._engine.dialect.has_table(conn, "alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def _translate(self, what: str, exc: SQLAlchemyError) -> StoreError:
        # The driver's own message, not SQLAlchemy's, which repeats the statement and its parameters (firmware!).
        detail = getattr(exc, "orig", None) or exc
        if isinstance(exc, OperationalError | InterfaceError):
            if self._engine.dialect.name == "sqlite":
                hint = "Check that the folder exists and is writable and that no process holds a long lock"
            else:
                hint = "Check the URL, that the server runs and that it accepts these credentials"
            return StoreError(f"could not {what}: {detail} (database {self.url}). {hint}")
        if isinstance(exc, IntegrityError):
            return StoreError(f"could not {what}: the database {self.url} refused it ({detail})")
        return StoreError(f"could not {what} in {self.url}: {detail}")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: object) -> None:
        # sqlite3 would skip BEGIN before SELECT and DDL, breaking repeatable reads and transactional
        # migrations; BEGIN is emitted here instead (_on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # Busy timeout first, so that switching to WAL waits for a process holding the file.
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            _switch_to_wal(cursor)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A writer takes the write lock up front: a deferred transaction that reads and then writes after
        # another process committed fails at once with SQLITE_BUSY instead of waiting for its turn.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")


def _switch_to_wal(cursor: Any) -> None:
    """WAL lets a CLI read while the daemon writes. Switching a new file to it needs the file to itself, and SQLite
    answers "database is locked" at once, without its busy handler, while another process opening the same new file
    holds it: ask again within the busy timeout (several daemons, or a daemon and `fuota launch`, start together)."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)
