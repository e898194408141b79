"""Shared test fixtures: the reference vectors in ../shared/vectors, Mosquitto and PostgreSQL, stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fuota.store import Store
from tests.support.broker import Broker, make_tls_files
from tests.support.postgres import PostgresServer
from tests.support.store_helpers import Clock
from tests.support.vectors import require_vectors


@pytest.fixture(scope="session")
def vectors() -> Path:
    """The folder of TS004 reference vectors."""
    return require_vectors()


@pytest.fixture
def mqtt_broker(tmp_path: Path) -> Iterator[Broker]:
    """A real mosquitto on a free loopback port, stopped after the test."""
    broker = Broker(tmp_path).start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def mqtt_tls_broker(tmp_path: Path) -> Iterator[Broker]:
    """A real mosquitto speaking TLS with a freshly generated self-signed CA (broker.tls.ca)."""
    broker = Broker(tmp_path, tls=make_tls_files(tmp_path)).start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL on a free loopback port for the whole session; `.create_database()` gives a fresh URL.
    Fails, saying how to install it, when PostgreSQL's binaries are missing."""
    try:
        server = PostgresServer()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database of this test alone (postgresql+psycopg://…), dropped after."""
    url = postgres_server.create_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database, once a SQLite file and once a database of the session's PostgreSQL server: a test
    that takes it runs on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fuota.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def clock() -> Clock:
    """A clock the test moves by hand (clock.advance(seconds))."""
    return Clock()


@pytest.fixture
def store(store_url: str, clock: Clock) -> Iterator[Store]:
    """A Store on `store_url` (so on SQLite and on PostgreSQL), stamping rows with `clock`."""
    with Store(store_url, clock=clock) as opened:
        yield opened
