"""Configuration and campaign files for tests, written with a small TOML writer (the standard library only reads
TOML): `tomllib.loads(toml_document(doc)) == doc` for every document of strings, numbers, booleans, dates and times,
lists and tables.

A configuration is `write_config(folder, iotsquare(url), milesight(broker, gateways), dashboard(token=…))`: the
`[store]` table (by default a SQLite file in the folder), then each table a builder gives, then any extra lines
(they land in the last table). A campaign is `write_campaign(…)` (IoTSquare, through temporary multicast groups) or
`write_milesight_campaign(…)`, both built on `write_campaign_file`.

Tests that mean to write a malformed file (tests/integration/bad_inputs, the fuzzers' mutations) write their own
text; the fuzzers use `toml_value`/`toml_document` to write what they generate.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

__all__ = [
    "GEN_APP_KEY",
    "Table",
    "backend",
    "config_text",
    "dashboard",
    "iotsquare",
    "milesight",
    "sqlite_url",
    "store",
    "toml_document",
    "toml_key",
    "toml_value",
    "write_campaign",
    "write_campaign_file",
    "write_config",
    "write_milesight_campaign",
]

GEN_APP_KEY = "504e83e6dd1a457af1bf93f99d362e89"
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")

Table = tuple[str, dict[str, Any]]  # a table's dotted name (e.g. "backends.iot") and its fields


# --- the TOML writer ------------------------------------------------------------------------------------------------


def _toml_string(text: str) -> str:
    # json escapes quotes, backslashes and C0 controls the way TOML's basic strings do; DEL is TOML's only extra.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_key(key: str) -> str:
    """`key` as a TOML key: bare when it may be, else quoted."""
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


def toml_value(value: Any) -> str:
    """`value` as a TOML value: inline tables for dicts, so that a whole document may be `key = value` lines."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, Path):
        return _toml_string(str(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {value!r}")


def toml_document(doc: dict[str, Any], prefix: tuple[str, ...] = ()) -> str:
    """`doc` as a TOML document: its plain values as `key = value` lines, then each dict value as a `[table]`
    (nested ones as `[table.sub]`). A value of None is left out (the field is not set)."""
    plain = [f"{toml_key(k)} = {toml_value(v)}\n" for k, v in doc.items() if v is not None and not isinstance(v, dict)]
    header = f"[{'.'.join(toml_key(part) for part in prefix)}]\n" if prefix else ""
    text = header + "".join(plain)
    for key, value in doc.items():
        if isinstance(value, dict):
            text += ("\n" if text else "") + toml_document(value, (*prefix, key))
    return text


# --- configurations ---------------------------------------------------------------------------------------------


def sqlite_url(folder: Path) -> str:
    """The URL of the store the tests keep in `folder`: its SQLite file fuota.db."""
    return f"sqlite:///{folder / 'fuota.db'}"


def store(url: str) -> Table:
    """`[store]` with `url`."""
    return "store", {"url": url}


def backend(name: str, **fields: Any) -> Table:
    """`[backends.NAME]` with exactly `fields`."""
    return f"backends.{name}", fields


def iotsquare(
    base_url: str,
    *,
    name: str = "iot",
    token: str | None = "sim-token",
    poll_interval: float | None = 0.2,
    timeout: float | None = 5,
    **fields: Any,
) -> Table:
    """An IoTSquare back end (the simulator's token, polled every 0.2 s); `fields` add to it (give_up_after,
    max_concurrent, ca_file, insecure, token_env…). None leaves a field out."""
    return backend(
        name,
        kind="iotsquare",
        base_url=base_url,
        token=token,
        poll_interval=poll_interval,
        timeout=timeout,
        **fields,
    )


def milesight(
    broker_url: str,
    gateways: list[str],
    *,
    name: str = "ms",
    poll_interval: float | None = 0.2,
    timeout: float | None = 2,
    **fields: Any,
) -> Table:
    """A Milesight back end: gateways behind `broker_url`, polled every 0.2 s; `fields` add to it (give_up_after,
    request_topic, response_topic…). None leaves a field out."""
    return backend(
        name,
        kind="milesight",
        broker_url=broker_url,
        gateways=list(gateways),
        poll_interval=poll_interval,
        timeout=timeout,
        **fields,
    )


def dashboard(**fields: Any) -> Table:
    """`[dashboard]` (token, token_env)."""
    return "dashboard", fields


def config_text(*tables: Table, extra: str = "") -> str:
    """A configuration of `tables`, in order, then the `extra` lines (which land in the last table)."""
    doc: dict[str, Any] = {}
    for dotted, fields in tables:
        *parents, last = dotted.split(".")
        place = doc
        for part in parents:
            place = place.setdefault(part, {})
        place[last] = {**place.get(last, {}), **fields}
    text = toml_document(doc)
    return text + (extra if not extra or text.endswith("\n") else "\n" + extra)


def write_config(folder: Path, *tables: Table, store_url: str | None = None, extra: str = "") -> Path:
    """folder/fuota.toml: `[store]` (`store_url`, by default the SQLite file folder/fuota.db), then `tables`, then
    the `extra` lines."""
    path = folder / "fuota.toml"
    path.write_text(config_text(store(store_url or sqlite_url(folder)), *tables, extra=extra))
    return path


# --- campaigns --------------------------------------------------------------------------------------------------


def write_campaign_file(folder: Path, file: str, *, image: bytes | None = None, **fields: Any) -> Path:
    """folder/FILE holding `fields` (dict values become tables, e.g. iotsquare={…}); its firmware is fw.bin unless
    `fields` name another, and `image` (when given) is written there."""
    fields = {"firmware": "fw.bin", **fields}
    if image is not None:
        (folder / fields["firmware"]).write_bytes(image)
    path = folder / file
    path.write_text(toml_document(fields))
    return path


def write_campaign(
    folder: Path,
    name: str,
    devices: list[str] | None,
    *,
    firmware: bytes,
    backend: str = "iot",
    file: str = "c.toml",
    join_timeout: float = 30,
    iotsquare: dict[str, Any] | None = None,
    **fields: Any,
) -> Path:
    """An IoTSquare campaign sending `firmware` (to folder/fw.bin) to `devices` through temporary multicast groups
    of back end `backend` (EU868, keys derived from GEN_APP_KEY); `iotsquare` adds to or replaces fields of its
    `[iotsquare]` table, `fields` are more top-level fields (start, window, redundancy_percent instead of 30…)."""
    table = {"region": "eu868", "subnet": "ch_00-07", "enable_mc_remote": True, "gen_app_key": GEN_APP_KEY}
    table |= {"join_timeout": join_timeout} | (iotsquare or {})
    return write_campaign_file(
        folder,
        file,
        image=firmware,
        name=name,
        backend=backend,
        devices=devices,
        **{"redundancy_percent": 30, **fields},
        iotsquare=table,
    )


def write_milesight_campaign(
    folder: Path,
    name: str,
    devices: list[str],
    *,
    firmware: bytes | None = None,
    backend: str = "ms",
    file: str = "c.toml",
    milesight: dict[str, Any] | None = None,
    **fields: Any,
) -> Path:
    """A Milesight campaign sending `firmware` (to folder/fw.bin; None: fw.bin is there already) to `devices` on
    back end `backend`, a fragment a second; `milesight` adds to or replaces fields of its `[milesight]` table."""
    return write_campaign_file(
        folder,
        file,
        image=firmware,
        name=name,
        backend=backend,
        redundancy_percent=30,
        devices=devices,
        **fields,
        milesight={"fragment_interval": 1000} | (milesight or {}),
    )
