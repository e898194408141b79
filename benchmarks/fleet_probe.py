"""What the fleet benchmark measures around a daemon, without touching fuota: rows written, device-polls, processes.

- Rows written: triggers the benchmark adds to the store after fuota created it count every row inserted, updated
  or deleted in each of fuota's tables, and every device change (a devices row inserted, or updated with another
  stage or outcome). SQLite: a counter table bench_writes; PostgreSQL: one sequence per counter (nextval takes no
  row lock, so three daemons writing at once do not queue on the counters).
- Device-polls: one device's status read from the back end in one poll, counted as the rows the simulator answers
  to the per-device list of a task (IoTSquare fuota/device/list, Milesight /api/fuota/devices).
- A process's CPU seconds (user + system, /proc/PID/stat) and peak resident memory (VmHWM, /proc/PID/status), read
  while it still runs.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from fuota.sim.iotsquare import IoTSquareSim
from fuota.sim.milesight import MilesightSim
from fuota.store.schema import metadata

__all__ = ["DevicePolls", "WriteCounter", "cpu_seconds", "peak_mib", "store_bytes"]

CHANGES = "changes"
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def peak_mib(pid: int) -> float:
    """Peak resident memory (VmHWM) of process `pid`, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")


def _tables() -> list[str]:
    return sorted(metadata.tables)


class WriteCounter:
    """Counts the rows written to the store at `url` (SQLite or PostgreSQL) from `install()` on."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite")
        self._engine = create_engine(url)

    def close(self) -> None:
        self._engine.dispose()

    def install(self) -> None:
        """Add the counters and their triggers to every table of fuota's schema (created already)."""
        with self._engine.begin() as conn:
            for statement in self._sqlite_ddl() if self.sqlite else self._postgres_ddl():
                conn.execute(text(statement))

    def _sqlite_ddl(self) -> list[str]:
        names = [*_tables(), CHANGES]
        ddl = ["CREATE TABLE bench_writes (tbl TEXT PRIMARY KEY, n INTEGER NOT NULL)"]
        ddl += [f"INSERT INTO bench_writes VALUES ('{name}', 0)" for name in names]
        bump = "BEGIN UPDATE bench_writes SET n = n + 1 WHERE tbl = '{}'; END"
        for table in _tables():
            for op in ("INSERT", "UPDATE", "DELETE"):
                ddl.append(f"CREATE TRIGGER bench_{table}_{op} AFTER {op} ON {table} {bump.format(table)}")
        ddl.append(f"CREATE TRIGGER bench_changes_new AFTER INSERT ON devices {bump.format(CHANGES)}")
        ddl.append(
            "CREATE TRIGGER bench_changes_moved AFTER UPDATE ON devices "
            "WHEN OLD.stage IS NOT NEW.stage OR OLD.outcome IS NOT NEW.outcome " + bump.format(CHANGES)
        )
        return ddl

    def _postgres_ddl(self) -> list[str]:
        ddl = [f"CREATE SEQUENCE bench_{name}" for name in [*_tables(), CHANGES]]
        ddl.append(
            "CREATE FUNCTION bench_count() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "PERFORM nextval('bench_' || TG_TABLE_NAME); RETURN NULL; END $$"
        )
        ddl.append(
            "CREATE FUNCTION bench_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "PERFORM nextval('bench_changes'); RETURN NULL; END $$"
        )
        for table in _tables():
            ddl.append(
                f"CREATE TRIGGER bench_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION bench_count()"
            )
        ddl.append("CREATE TRIGGER bench_new AFTER INSERT ON devices FOR EACH ROW EXECUTE FUNCTION bench_change()")
        ddl.append(
            "CREATE TRIGGER bench_moved AFTER UPDATE ON devices FOR EACH ROW WHEN "
            "(OLD.stage IS DISTINCT FROM NEW.stage OR OLD.outcome IS DISTINCT FROM NEW.outcome) "
            "EXECUTE FUNCTION bench_change()"
        )
        return ddl

    def counts(self) -> dict[str, int]:
        """Rows written so far per table, and CHANGES: the device changes."""
        with self._engine.connect() as conn:
            if self.sqlite:
                return {tbl: n for tbl, n in conn.execute(text("SELECT tbl, n FROM bench_writes"))}
            found = {}
            for name in [*_tables(), CHANGES]:
                value, called = conn.execute(text(f"SELECT last_value, is_called FROM bench_{name}")).one()
                found[name] = value if called else 0
            return found

    def preparing(self) -> int:
        """Deployments still being prepared: Scheduled, and not yet waiting for their members to join."""
        query = "SELECT count(*) FROM deployments WHERE state = 'Scheduled' AND preparation != 'joining'"
        with self._engine.connect() as conn:
            return int(conn.scalar(text(query)) or 0)

    def size(self) -> int:
        """The store's bytes: the SQLite file (and its WAL), or fuota's tables with their indexes and TOAST."""
        if self.sqlite:
            path = Path(self.url.split("sqlite:///", 1)[1])
            return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
        with self._engine.connect() as conn:
            return sum(conn.scalar(text(f"SELECT pg_total_relation_size('{t}')")) or 0 for t in _tables())


def store_bytes(url: str) -> int:
    """See WriteCounter.size."""
    counter = WriteCounter(url)
    try:
        return counter.size()
    finally:
        counter.close()


class DevicePolls:
    """Counts the device rows a simulator answers to per-task device lists (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rows = 0
        self.requests = 0

    def _add(self, rows: int) -> None:
        with self._lock:
            self.rows += rows
            self.requests += 1

    def attach(self, sim: IoTSquareSim | MilesightSim) -> None:
        """Wrap the simulator's device-list handler (its route table is the only way in without changing it)."""
        if isinstance(sim, IoTSquareSim):
            method, handler = sim._routes["fuota/device/list"]
            sim._routes["fuota/device/list"] = (method, self._wrap(handler, lambda reply: len(reply.data)))
            return
        for gateway in sim._gateways.values():
            key = ("GET", "/api/fuota/devices")
            gateway.routes[key] = self._wrap(gateway.routes[key], lambda answer: len(answer["devices"]))

    def _wrap(self, handler: Callable[..., Any], rows: Callable[[Any], int]) -> Callable[..., Any]:
        def counted(*args: Any) -> Any:
            answer = handler(*args)
            self._add(rows(answer))
            return answer

        return counted
