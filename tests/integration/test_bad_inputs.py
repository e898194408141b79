"""The bad-input corpus (tests/bad_inputs): every case refused with exit code 2, its field and value named, and the
store byte for byte as it was."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fuota.cli.app import app
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
    for name in ("no_column.csv", "bad_eui.csv", "duplicate.csv"):
        shutil.copy(CORPUS / name, folder / name)
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
