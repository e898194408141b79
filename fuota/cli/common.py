"""What every `fuota` command shares: its consoles, how it fails, and how it opens the configuration and store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from fuota.config import Config, ConfigError, load_config

if TYPE_CHECKING:  # the store pulls in SQLAlchemy: imported where a command needs it
    from fuota.store import CampaignRecord, Store

__all__ = [
    "ConfigOption",
    "JsonOption",
    "State",
    "StoreOption",
    "build_backends",
    "err",
    "fail",
    "find",
    "load",
    "open_store",
    "out",
]

MAX_ID = 2**63 - 1  # the largest id a store holds (SQLite's and PostgreSQL's BIGINT)

err = Console(stderr=True)
out = Console()

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="Configuration file (else $FUOTA_CONFIG, else ./fuota.toml).")
]
StoreOption = Annotated[
    str | None,
    typer.Option("--store", metavar="URL", help="The store's URL, over [store] and $FUOTA_STORE_URL."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


class State:
    """What the root callback read from the command line, for the command that follows."""

    config_path: Path | None = None
    store_url: str | None = None


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print `message` as an error on stderr; the Exit to raise with `code` (2: bad input, nothing stored)."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


def load() -> Config:
    """The configuration named on the command line (else $FUOTA_CONFIG, ./fuota.toml), with the store of --store;
    exit 2 when unusable, or when there is none and no store is named (the message lists the paths tried)."""
    try:
        return load_config(State.config_path, store_url=State.store_url)
    except ConfigError as exc:
        raise fail(str(exc)) from exc


def open_store(config: Config) -> Store:
    """The configuration's store; exit 2 when it cannot be opened."""
    from fuota.store import Store, StoreError

    try:
        return Store(config.store.url)
    except StoreError as exc:
        raise fail(str(exc)) from exc


def build_backends(config: Config, names: set[str]) -> dict:
    """The adapters of the back ends `names`; exit 2 when one cannot be built."""
    from fuota.service.campaigns import build_backends as build

    try:
        return build(config, names)
    except ConfigError as exc:
        raise fail(str(exc)) from exc


def find(store: Store, key: str | None) -> CampaignRecord:
    """The campaign of this id or name (the newest without one); exit 2 when there is none."""
    records = store.campaigns()
    if key is None:
        if not records:
            raise fail("no campaign yet; `fuota launch CAMPAIGN.toml` stores one")
        return records[0]
    # str.isdigit also accepts "²" and other digits int() refuses, and an id past SQLite's 64-bit integers cannot
    # name a campaign: both are looked up as names, which no campaign has (names are ASCII, at most 64 characters).
    is_id = key.isascii() and key.isdigit() and int(key) <= MAX_ID
    record = store.campaign(int(key)) if is_id else store.campaign(key)
    if record is None:
        raise fail(f"campaign {key!r} does not exist; `fuota list` shows the campaigns")
    return record
