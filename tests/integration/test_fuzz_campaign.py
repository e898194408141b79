"""Hypothesis against the campaign-file and configuration parsers.

The contract (DESIGN.md §4, fuota.config): a file either loads or is refused with ConfigError, which the command
turns into exit code 2 with a message naming the field; never a traceback. Campaigns go through what `fuota plan`
and `fuota launch` run inside their ConfigError handler (load_campaign, then fuota.service.campaigns.plan against an
IoTSquare back end); configurations through load_config and the adapter factory that `fuota run` builds its back
ends with.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fuota.backends.registry import KINDS, make_backend
from fuota.campaign import CampaignFile, load_campaign
from fuota.cli.app import app
from fuota.config import ConfigError, load_config
from fuota.core.settings import Window
from fuota.service.campaigns import plan
from tests.support.config_files import backend as backend_table
from tests.support.config_files import toml_document, write_config

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
DEVICES = ["8cf9573000000001", "8cf9573000000002"]
GOOD_CAMPAIGN: dict[str, Any] = {
    "name": "good",
    "firmware": "fw.bin",
    "backend": "iot",
    "redundancy_percent": 30,
    "devices": DEVICES,
    "iotsquare": {"region": "eu868", "subnet": "ch_00-07", "gen_app_key": "504e83e6dd1a457af1bf93f99d362e89"},
}
# Every field of every table a campaign file may hold, from the models themselves: a new field is fuzzed too.
TABLES: dict[str, type] = {name: kind.target_model for name, kind in KINDS.items()} | {"window": Window}
CAMPAIGN_FIELDS = [(name,) for name in CampaignFile.model_fields] + [
    (table, name) for table, model in TABLES.items() for name in model.model_fields
]
GOOD_BACKENDS: dict[str, dict[str, Any]] = {
    "iotsquare": {"kind": "iotsquare", "base_url": "http://127.0.0.1:9", "token": "t0k3n"},
    "milesight": {"kind": "milesight", "broker_url": "mqtt://127.0.0.1:9", "gateways": ["24e124fffef5a6a8"]},
}
CONFIG_MODELS: dict[str, type] = {name: kind.config_model for name, kind in KINDS.items()}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


# --- strategies -------------------------------------------------------------------------------------------------

keys = st.text(min_size=1, max_size=12)
offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda minutes: timezone(timedelta(minutes=minutes)))
scalars = st.one_of(
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(),  # nan, inf, -inf, -0.0, subnormals
    st.text(),
    st.text(max_size=3).map(lambda s: s * 5000),  # huge
    st.sampled_from(["", " ", "0", "-1", "nan", "inf", "true", "null", "\x00", "é", "🙂", "8CF9573000000001 "]),
    st.datetimes(timezones=st.none() | st.just(UTC) | offsets),
    st.dates(),
    st.times(),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)


# --- the seam: what `fuota plan` and `fuota launch` run before anything is sent or stored ---------------------------


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    """A configuration with one IoTSquare back end `iot` (nothing listens: planning sends nothing) and a firmware."""
    with tempfile.TemporaryDirectory() as name:
        root = Path(name)
        (root / "fw.bin").write_bytes(bytes(range(256)) * 20)
        write_config(root, backend_table("iot", **GOOD_BACKENDS["iotsquare"]))
        yield root


def check(folder: Path, content: bytes) -> str | None:
    """`content` as c.toml through load_campaign and the service's plan against back end `iot`: None when it plans,
    else the ConfigError's message, which the command prints with exit code 2. Any other exception fails the test."""
    path = folder / "c.toml"
    path.write_bytes(content)
    try:
        plan(load_config(folder / "fuota.toml"), load_campaign(path))
    except ConfigError as exc:
        return str(exc)
    return None


REMOVE = object()  # as a value: take the field out


def _mutated(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """`doc` with the field at `path` (a top-level key, or table and key) set to `value`, or removed."""
    doc = {**doc}
    table = doc if len(path) == 1 else {**(doc.get(path[0]) if isinstance(doc.get(path[0]), dict) else {})}
    if value is REMOVE:
        table.pop(path[-1], None)
    else:
        table[path[-1]] = value
    if len(path) == 2:
        doc[path[0]] = table
    return doc


def test_the_good_campaign_plans_and_a_refusal_exits_2(folder: Path) -> None:
    assert check(folder, toml_document(GOOD_CAMPAIGN).encode()) is None
    (folder / "c.toml").write_text(toml_document({**GOOD_CAMPAIGN, "redundancy_percent": "lots"}))
    result = CliRunner().invoke(app, ["--config", str(folder / "fuota.toml"), "plan", str(folder / "c.toml")])
    assert result.exit_code == 2
    assert "redundancy_percent = 'lots'" in result.output


# --- (a) anything as the file ------------------------------------------------------------------------------------


def _spliced(text: str, junk: str, at: int) -> str:
    cut = at % (len(text) + 1)
    return text[:cut] + junk + text[cut:]


GOOD_TEXT = toml_document(GOOD_CAMPAIGN)
files = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    st.builds(_spliced, st.just(GOOD_TEXT), st.text(max_size=20), st.integers(0, 10_000)).map(str.encode),
    st.builds(lambda raw, at: GOOD_TEXT.encode()[:at] + raw, st.binary(max_size=8), st.integers(0, len(GOOD_TEXT))),
    st.dictionaries(keys, values, max_size=6).map(lambda doc: toml_document(doc).encode()),
)


@FUZZ
@given(content=files)
@example(content=b"\xff\xfe")  # not UTF-8: was UnicodeDecodeError
@example(content=b"a = " + b"[" * 2000 + b"]" * 2000)  # nested past the recursion limit: was RecursionError
@example(content=b"a = 1" + b"0" * 5000)  # over Python's 4300 digits: was ValueError from tomllib
def test_any_file_plans_or_is_refused(folder: Path, content: bytes) -> None:
    message = check(folder, content)
    assert message is None or message.strip()


# --- (b) a good campaign with one field wrong ----------------------------------------------------------------------


@FUZZ
@given(path=st.sampled_from(CAMPAIGN_FIELDS), value=values | st.just(REMOVE))
@example(path=("firmware",), value="fw\x00.bin")  # was ValueError: embedded null byte
@example(path=("devices_file",), value="d\x00.csv")  # was ConfigError("embedded null byte"), no field named
@example(path=("start",), value=datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))))  # OverflowError
@example(path=("start",), value="0001-01-01T00:00:00+01:00")  # was OverflowError
def test_one_wrong_field_is_named(folder: Path, path: tuple[str, ...], value: Any) -> None:
    message = check(folder, toml_document(_mutated(GOOD_CAMPAIGN, path, value)).encode())
    assert message is None or any(part in message for part in path), message


@FUZZ
@given(key=keys.filter(lambda k: k not in CampaignFile.model_fields), value=values)
def test_an_unknown_field_is_named(folder: Path, key: str, value: Any) -> None:
    message = check(folder, toml_document({**GOOD_CAMPAIGN, key: value}).encode())
    assert message is not None
    assert key in message


# --- (c) the configuration, both kinds of back end -----------------------------------------------------------------


def build(config_path: Path) -> None:
    """load_config, then every back end as `fuota run` builds it (ConfigError passes; anything else fails)."""
    config = load_config(config_path)
    for name, backend in config.backends.items():
        if backend.kind == "milesight" and not _loopback(backend.broker_url):
            continue  # building one connects: only to 127.0.0.1
        make_backend(name, backend).close()


def _loopback(url: str) -> bool:
    try:
        return urlsplit(url).hostname in LOOPBACK
    except ValueError:
        return True  # refused before connecting


CONFIG_FIELDS = [(kind, name) for kind, model in CONFIG_MODELS.items() for name in model.model_fields]
broker_urls = st.builds(
    "{}://{}{}{}{}".format,
    st.sampled_from(["mqtt", "mqtts", "MQTT", "http", ""]),
    st.sampled_from(["", "user@", "u:p@", "@"]),
    st.sampled_from(["127.0.0.1", "localhost", "[::1]", "[", ""]),
    st.sampled_from(["", ":", ":9", ":0", ":65535", ":65536", ":99999", ":-1", ":x"]),
    st.sampled_from(["", "/", "/x", "?q", "#f", " "]),
)


def refuse_or_build(folder: Path, backend: dict[str, Any], field: str) -> None:
    """Write a configuration with `backend` as backends.b and build it; a ConfigError must name back end and field."""
    path = folder / "case.toml"
    path.write_text(toml_document({"backends": {"b": backend}}))
    try:
        build(path)
    except ConfigError as exc:
        assert "backends.b" in str(exc), exc
        assert field in str(exc), exc


@FUZZ
@given(field=st.sampled_from(CONFIG_FIELDS), value=values | st.just(REMOVE))
@example(field=("iotsquare", "token"), value="tok en\n")  # was ValueError from the adapter when built
@example(field=("iotsquare", "token_header"), value="é")  # was UnicodeEncodeError from httpx when built
@example(field=("milesight", "tls_ca"), value="ca.pem")  # mqtt:// with TLS files: was ValueError when built
@example(field=("milesight", "insecure"), value=True)  # mqtt:// with insecure: was ValueError when built
def test_one_wrong_backend_field_is_refused(folder: Path, field: tuple[str, str], value: Any) -> None:
    kind, name = field
    refuse_or_build(folder, _mutated(GOOD_BACKENDS[kind], (name,), value), name)


@FUZZ
@given(url=broker_urls)
@example(url="mqtt://u:p@127.0.0.1:9")  # credentials in the URL: was ValueError when built
@example(url="mqtt://127.0.0.1:99999")  # port out of range: was ValueError when built
def test_broker_urls_are_checked_at_load(folder: Path, url: str) -> None:
    refuse_or_build(folder, {**GOOD_BACKENDS["milesight"], "broker_url": url}, "broker_url")


@FUZZ
@given(store=values, backends=values)
@example(store="x", backends={})  # was ValueError from the environment overrides
@example(store={}, backends="abc")  # was AttributeError
@example(store={}, backends={"iot": 5})  # was TypeError
def test_tables_of_the_wrong_shape_are_refused(folder: Path, store: Any, backends: Any) -> None:
    path = folder / "case.toml"
    path.write_text(toml_document({"store": store, "backends": backends}))
    with contextlib.suppress(ConfigError):
        build(path)


@FUZZ
@given(content=files)
@example(content=b"\x80")  # was UnicodeDecodeError
def test_any_configuration_file_loads_or_is_refused(folder: Path, content: bytes) -> None:
    path = folder / "case.toml"
    path.write_bytes(content)
    with contextlib.suppress(ConfigError):
        build(path)


base_urls = st.builds(
    "{}://{}{}{}{}".format,
    st.sampled_from(["http", "https", "HTTP", "ftp", ""]),
    st.sampled_from(["", "user@", "u:pw-s3cret@", "@"]),
    st.sampled_from(["127.0.0.1", "iot.example.com", "[::1]", "[::1", "[", ""]),
    st.sampled_from(["", ":", ":9", ":0", ":65535", ":65536", ":99999", ":-1", ":x", ":²"]),
    st.sampled_from(["", "/", "/openapi", "?q", "#f", " "]),
)


@FUZZ
@given(url=base_urls)
@example(url="http://[::1")  # was stored, and the campaign failed when its first call was made
@example(url="http://")  # same
@example(url="http://127.0.0.1:99999")  # same
@example(url="http://u:pw-s3cret@127.0.0.1:9")  # was accepted, and the password printed in an error
def test_base_urls_are_checked_at_load_and_passwords_never_shown(folder: Path, url: str) -> None:
    path = folder / "case.toml"
    path.write_text(toml_document({"backends": {"b": {**GOOD_BACKENDS["iotsquare"], "base_url": url}}}))
    try:
        config = load_config(path)
    except ConfigError as exc:
        assert "backends.b" in str(exc) and "base_url" in str(exc), exc
        assert "pw-s3cret" not in str(exc), exc
        return
    parts = urlsplit(config.backends["b"].base_url)
    assert parts.hostname and "@" not in parts.netloc, url
    assert parts.port is None or 0 <= parts.port <= 65535, url
