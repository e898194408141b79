"""The tests' own helpers (tests/support): the TOML they write reads back as what was meant, the configurations and
campaigns they write load, and wait_for waits, returns what it waited for and says what it did not see."""

from __future__ import annotations

import itertools
import math
import tomllib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuota.backends.iotsquare.kind import IoTSquareConfig
from fuota.backends.milesight.kind import MilesightConfig
from fuota.campaign import load_campaign
from fuota.config import load_config
from tests.support.config_files import (
    GEN_APP_KEY,
    dashboard,
    iotsquare,
    milesight,
    sqlite_url,
    toml_document,
    write_campaign,
    write_config,
    write_milesight_campaign,
)
from tests.support.waiting import wait_for

offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda minutes: timezone(timedelta(minutes=minutes)))
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(),
    st.datetimes(timezones=st.none() | st.just(UTC) | offsets),
    st.dates(),
    st.times(),
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3), max_leaves=10
)


def _same(a: object, b: object) -> bool:
    """Equal, -0.0 and 0.0 told apart (TOML keeps the sign)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _sorted(doc: dict) -> dict:
    """`doc` with its plain values before its tables, at every level: the order a TOML document gives them in."""
    plain = {k: v for k, v in doc.items() if not isinstance(v, dict)}
    return plain | {k: _sorted(v) for k, v in doc.items() if isinstance(v, dict)}


@settings(max_examples=300, deadline=None)
@given(doc=st.dictionaries(st.text(), values, max_size=5))
def test_toml_documents_read_back_as_written(doc: dict) -> None:
    assert _same(tomllib.loads(toml_document(doc)), _sorted(doc))


def test_a_configuration_of_every_table_loads_as_meant(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        iotsquare("https://127.0.0.1:9", max_concurrent=1, ca_file=tmp_path / 'a "quoted" ca.pem'),
        milesight("mqtt://127.0.0.1:9", ["24e124fffef5a6a8"], name="ms", give_up_after=4, request_topic="a/b"),
        dashboard(token='t\\ok"en'),
    )
    path.chmod(0o600)
    config = load_config(path)
    assert config.store.url == sqlite_url(tmp_path)
    iot, ms = config.backend("iot"), config.backend("ms")
    assert isinstance(iot, IoTSquareConfig) and isinstance(ms, MilesightConfig)
    assert (iot.base_url, iot.poll_interval, iot.timeout, iot.max_concurrent) == ("https://127.0.0.1:9", 0.2, 5, 1)
    assert iot.secret("iot") == "sim-token" and iot.ca_file == tmp_path / 'a "quoted" ca.pem'
    assert (ms.gateways, ms.give_up_after, ms.request_topic, ms.timeout) == (["24e124fffef5a6a8"], 4, "a/b", 2)
    assert config.dashboard.token is not None and config.dashboard.token.get_secret_value() == 't\\ok"en'
    extra = write_config(tmp_path, iotsquare("http://127.0.0.1:9", token=None), extra='token_env = "X"\n')
    assert tomllib.loads(extra.read_text())["backends"]["iot"]["token_env"] == "X"


def test_campaign_files_of_both_vendors_load_as_meant(tmp_path: Path) -> None:
    devices = ["8cf9573000000001", "8cf9573000000002"]
    start = datetime(2026, 11, 24, 2, tzinfo=UTC).isoformat()
    write_campaign(tmp_path, "iot-1", devices, firmware=b"\x01" * 10, start=start, iotsquare={"frag_size": 50})
    iot = load_campaign(tmp_path / "c.toml")
    assert (iot.file.name, iot.file.backend, list(iot.devices), iot.file.redundancy_percent) == (
        "iot-1",
        "iot",
        devices,
        30,
    )
    assert iot.file.start == datetime(2026, 11, 24, 2, tzinfo=UTC) and iot.firmware == b"\x01" * 10
    table = iot.file.iotsquare
    assert table is not None and (table.gen_app_key, table.frag_size, table.join_timeout) == (GEN_APP_KEY, 50, 30)
    write_milesight_campaign(tmp_path, "ms-1", devices, file="m.toml", milesight={"fragment_size": 40})
    ms = load_campaign(tmp_path / "m.toml")
    assert (ms.file.name, ms.file.backend, list(ms.devices), ms.firmware) == ("ms-1", "ms", devices, b"\x01" * 10)
    table = ms.file.milesight
    assert table is not None and (table.fragment_interval, table.fragment_size) == (1000, 40)


def test_wait_for_returns_the_first_truthy_value() -> None:
    calls = itertools.count()
    assert wait_for(lambda: next(calls) >= 3 and "ready", 5, "three calls", every=0) == "ready"


def test_wait_for_names_what_it_waited_for_and_the_last_value_seen() -> None:
    values = iter([0, [], ""] + [None] * 1000)
    with pytest.raises(AssertionError, match=r"the answer: not within 0.05 s \(last seen: (''|None)\)"):
        wait_for(lambda: next(values), 0.05, "the answer", every=0.01)


def test_wait_for_lets_the_condition_fail_at_once() -> None:
    def broken() -> bool:
        raise AssertionError("the process exited")

    with pytest.raises(AssertionError, match="the process exited"):
        wait_for(broken, 60, "never")
