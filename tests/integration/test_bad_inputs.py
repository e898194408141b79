"""The bad-input corpus (tests/bad_inputs): every case refused with exit code 2, its field and value named, and the
store byte for byte as it was."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fuota.cli.app import app
from fuota.core.model import CampaignState
from fuota.input_files import CSV_FIELD_CAP, DEVICES_FILE_CAP, FIRMWARE_CAP
from fuota.store import Store
from tests.support.cli_helpers import fuota
from tests.support.config_files import backend, config_text, sqlite_url, store, write_config

CORPUS = Path(__file__).parent / "bad_inputs"
EXPECTED: dict[str, list[str]] = json.loads((CORPUS / "expected.json").read_text())
DEVICES = ["8cf9573000000001", "8cf9573000000002"]
IOTSQUARE = '[iotsquare]\ngen_app_key = "504e83e6dd1a457af1bf93f99d362e89"\n'


def _good_campaign() -> dict[str, str]:
    listed = ", ".join(f'"{d}"' for d in DEVICES)
    return {
        "name": 'name = "good"',
        "firmware": 'firmware = "fw.bin"',
        "backend": 'backend = "iot"',
        "redundancy_percent": "redundancy_percent = 30",
        "devices": f"devices = [{listed}]",
    }


def _campaign_text(case: str) -> str:
    lines = _good_campaign()
    table = IOTSQUARE
    if case.startswith("-"):
        removed = case[1:].strip()
        if removed == "[iotsquare]":
            table = ""
        else:
            lines.pop(removed)
    elif case.startswith("[iotsquare]"):
        table = case
    else:
        key = case.split("=")[0].strip()
        lines[key] = case.strip()
    return "\n".join(lines.values()) + "\n" + table


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bad")
    (folder / "fw.bin").write_bytes(b"\x01" * 500)
    (folder / "empty.bin").write_bytes(b"")
    (folder / "huge.bin").write_bytes(b"\x00" * (48 * 16384))
    for csv_file in CORPUS.glob("*.csv"):
        shutil.copy(csv_file, folder / csv_file.name)
    # Files that are not regular or are too large are made here, not kept in the corpus (sparse: no disk used).
    os.mkfifo(folder / "fifo")
    for name, size in (("over_cap.bin", FIRMWARE_CAP + 1), ("over_cap.csv", DEVICES_FILE_CAP + 1)):
        with (folder / name).open("wb") as handle:
            handle.truncate(size)
    field = "x" * (CSV_FIELD_CAP + 1)
    (folder / "big_field.csv").write_text(f"dev_eui,note\n8cf9573000000011,ok\n8cf9573000000012,{field}\n")
    (folder / "store.toml").write_text(config_text(store(sqlite_url(folder))))
    write_config(folder, backend("iot", kind="iotsquare", base_url="http://127.0.0.1:9", token="t"))
    (folder / "c.toml").write_text(_campaign_text('name = "good"'))
    result = CliRunner().invoke(app, ["--config", str(folder / "fuota.toml"), "launch", str(folder / "c.toml")])
    assert result.exit_code == 0, result.output  # a store with a campaign in it, to prove it is left alone
    return folder


def test_the_corpus_is_large_enough() -> None:
    assert len(EXPECTED) >= 40


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_refused_with_field_and_value_and_the_store_unchanged(setup: Path, case: str) -> None:
    text = (CORPUS / case).read_text()
    config, campaign = setup / "fuota.toml", setup / "c.toml"
    if case.startswith("config/"):
        config = setup / "case.toml"
        config.write_text((setup / "store.toml").read_text() + text)
    else:
        campaign = setup / "case-campaign.toml"
        campaign.write_text(_campaign_text(text).replace('name = "good"', 'name = "bad"'))
    before = hashlib.sha256((setup / "fuota.db").read_bytes()).hexdigest()
    result = CliRunner().invoke(app, ["--config", str(config), "launch", str(campaign)])
    assert result.exit_code == 2, (case, result.output)
    said = " ".join(result.output.split())  # the terminal wraps long messages
    for word in EXPECTED[case]:
        assert word in said, (case, word, said)
    assert hashlib.sha256((setup / "fuota.db").read_bytes()).hexdigest() == before


def test_plan_with_a_chart_into_a_missing_folder_is_refused_naming_it(setup: Path) -> None:
    before = hashlib.sha256((setup / "fuota.db").read_bytes()).hexdigest()
    chart = setup / "no-such-folder" / "sweep.svg"
    args = ["--config", str(setup / "fuota.toml"), "plan", "--offline", "--chart", str(chart), str(setup / "c.toml")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    said = "".join(result.output.split())
    assert "--chart" in said and "".join(str(chart.parent).split()) in said and "doesnotexist" in said
    assert not chart.parent.exists()
    assert hashlib.sha256((setup / "fuota.db").read_bytes()).hexdigest() == before


def _store_hash(folder: Path) -> str:
    return hashlib.sha256((folder / "fuota.db").read_bytes()).hexdigest()


def test_a_password_in_base_url_is_refused_and_never_printed(setup: Path) -> None:
    config = setup / "case.toml"
    config.write_text((setup / "store.toml").read_text() + (CORPUS / "config/base_url_credentials.toml").read_text())
    before = _store_hash(setup)
    for command in (["launch", str(setup / "c.toml")], ["plan", "--offline", str(setup / "c.toml")], ["list"]):
        result = CliRunner().invoke(app, ["--config", str(config), *command])
        assert result.exit_code == 2, (command, result.output)
        assert "credentials" in result.output and "s3cret-pw" not in result.output, (command, result.output)
    assert _store_hash(setup) == before


@pytest.mark.parametrize("command", ["status", "report", "retry", "abort", "watch"])
@pytest.mark.parametrize("key", ["²", "٣", str(2**63), "9" * 40])
def test_ids_that_no_store_holds_exit_2_naming_them(setup: Path, command: str, key: str) -> None:
    before = _store_hash(setup)
    result = CliRunner().invoke(app, ["--config", str(setup / "fuota.toml"), command, key])
    assert result.exit_code == 2, result.output
    said = "".join(result.output.split())
    assert f"campaign{key!r}doesnotexist" in said, said
    assert _store_hash(setup) == before


@pytest.mark.parametrize("address", ["²", "127.0.0.1:²", "[::1]:٨٠", "127.0.0.1:99999"])
def test_daemon_http_addresses_that_are_no_port_exit_2_before_the_store_opens(tmp_path: Path, address: str) -> None:
    write_config(tmp_path, backend("iot", kind="iotsquare", base_url="http://127.0.0.1:9", token="t"))
    result = CliRunner().invoke(app, ["--config", str(tmp_path / "fuota.toml"), "daemon", "--http", address])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert f"--http = {address!r}" in said and "0–65535" in said, said
    assert not (tmp_path / "fuota.db").exists()  # refused before the store was opened (and so created)


def test_a_retry_whose_name_would_pass_64_characters_exits_2_naming_it(tmp_path: Path) -> None:
    write_config(tmp_path, backend("iot", kind="iotsquare", base_url="http://127.0.0.1:9", token="t"))
    (tmp_path / "fw.bin").write_bytes(b"\x01" * 500)
    name = "n" * 64
    (tmp_path / "c.toml").write_text(_campaign_text(f'name = "{name}"'))
    config = ["--config", str(tmp_path / "fuota.toml")]
    assert CliRunner().invoke(app, [*config, "launch", str(tmp_path / "c.toml")]).exit_code == 0
    with Store(sqlite_url(tmp_path)) as stored:
        record = stored.campaign(name)
        assert record is not None
        stored.set_campaign_state(record.id, CampaignState.FAILED, "no device answered")
    before = _store_hash(tmp_path)
    for extra in ([], ["--dry-run"], ["--launch-only"]):
        result = CliRunner().invoke(app, [*config, "retry", name, *extra])
        assert result.exit_code == 2, (extra, result.output)
        said = " ".join(result.output.split())
        assert f"'{name}.retry1', 71 characters, over the 64" in said, said
    assert _store_hash(tmp_path) == before


class _LateStore:
    """The store as the loser of a launch race sees it: its look-up ran before the winner's insert (so it found
    nothing), its own insert after."""

    def __init__(self, store: Store) -> None:
        self._store, self._looked = store, False

    def campaign(self, key: int | str) -> object:
        if not self._looked:
            self._looked = True
            return None
        return self._store.campaign(key)

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)


def test_the_loser_of_a_launch_race_resumes_the_winners_campaign(tmp_path: Path) -> None:
    from fuota.campaign import load_campaign
    from fuota.config import load_config
    from fuota.service import campaigns as service

    write_config(tmp_path, backend("iot", kind="iotsquare", base_url="http://127.0.0.1:9", token="t"))
    (tmp_path / "fw.bin").write_bytes(b"\x01" * 500)
    (tmp_path / "c.toml").write_text(_campaign_text('name = "raced"'))
    planned = service.plan(load_config(tmp_path / "fuota.toml"), load_campaign(tmp_path / "c.toml"))
    with Store(sqlite_url(tmp_path)) as winner_store, Store(sqlite_url(tmp_path)) as loser_store:
        winner, resumed = service.launch(winner_store, planned)
        assert not resumed
        loser, resumed = service.launch(_LateStore(loser_store), planned)  # type: ignore[arg-type]
        assert resumed and loser.id == winner.id
        assert [r.name for r in winner_store.campaigns()] == ["raced"]
        assert len(winner_store.deployments(winner.id)) == 1


def test_two_launches_of_a_new_campaign_at_once_store_it_once_and_both_succeed(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    write_config(tmp_path, backend("iot", kind="iotsquare", base_url="http://127.0.0.1:9", token="t"))
    (tmp_path / "fw.bin").write_bytes(b"\x01" * 500)
    (tmp_path / "c.toml").write_text(_campaign_text('name = "raced"'))
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: fuota(tmp_path, "launch", "c.toml"), range(2)))
    for result in results:
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Traceback" not in result.stderr, result.stderr
    said = sorted(result.stdout.split()[0] for result in results)
    assert said == ["launched", "resumed"], [result.stdout for result in results]
    with Store(sqlite_url(tmp_path)) as stored:
        assert [r.name for r in stored.campaigns()] == ["raced"]
