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
from fuota.input_files import CSV_FIELD_CAP, DEVICES_FILE_CAP, FIRMWARE_CAP
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
