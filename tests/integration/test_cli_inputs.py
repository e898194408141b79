"""Bad input exits 2 with a message naming the field and the value, and leaves the store as it was."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.support.cli_helpers import fuota
from tests.support.config_files import iotsquare, write_campaign, write_config

DEVICES = ["8cf9573000000001", "8cf9573000000002", "8cf9573000000003"]


def _digest(folder: Path) -> str:
    db = folder / "fuota.db"
    return hashlib.sha256(db.read_bytes()).hexdigest() if db.exists() else "absent"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_config(
        tmp_path, iotsquare("http://127.0.0.1:9")
    )  # nothing listens there: a bad input must fail before any call
    write_campaign(tmp_path, "good", DEVICES, firmware=b"\x01" * 500)
    assert fuota(tmp_path, "launch", "c.toml").returncode == 0  # a store with one campaign in it
    return tmp_path


CASES = {
    "unreadable firmware": ('firmware = "missing.bin"', ["firmware", "missing.bin"]),
    "malformed EUI": ('devices = ["8cf95730000000zz"]', ["devices", "8cf95730000000zz"]),
    "short EUI": ('devices = ["8cf9"]', ["devices", "8cf9"]),
    "duplicate EUI": ('devices = ["8cf9573000000001", "8CF9573000000001"]', ["8cf9573000000001", "twice"]),
    "redundancy too high": ("redundancy_percent = 150", ["redundancy_percent", "150"]),
    "redundancy too low": ("redundancy_percent = 5", ["redundancy_percent", "5"]),
    "unknown backend": ('backend = "nope"', ["backend", "nope"]),
    "unknown field": ("colour = 1", ["colour"]),
    "start without zone": ('start = "2026-11-24T02:00:00"', ["start"]),
}


def _campaign_with(folder: Path, line: str) -> Path:
    key = line.split("=")[0].strip()
    base = {
        "name": '"bad"',
        "firmware": '"fw.bin"',
        "backend": '"iot"',
        "redundancy_percent": "30",
        "devices": "[" + ", ".join(f'"{d}"' for d in DEVICES) + "]",
    }
    base.pop(key, None)
    text = "\n".join(f"{k} = {v}" for k, v in base.items()) + f"\n{line}\n"
    text += '[iotsquare]\ngen_app_key = "504e83e6dd1a457af1bf93f99d362e89"\n'
    path = folder / "bad.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("case", "command"),
    [(case, "launch") for case in sorted(CASES)]
    + [
        ("malformed EUI", "run"),
        ("unknown backend", "run"),
        ("duplicate EUI", "plan"),
        ("redundancy too high", "plan"),
    ],
)
def test_bad_campaign_exits_2_naming_field_and_value(folder: Path, case: str, command: str) -> None:
    line, words = CASES[case]
    _campaign_with(folder, line)
    before = _digest(folder)
    result = fuota(folder, command, "bad.toml")
    assert result.returncode == 2, result.stdout + result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)
    assert _digest(folder) == before


def test_empty_firmware(folder: Path) -> None:
    (folder / "empty.bin").write_bytes(b"")
    _campaign_with(folder, 'firmware = "empty.bin"')
    before = _digest(folder)
    result = fuota(folder, "launch", "bad.toml")
    assert result.returncode == 2 and "empty.bin" in result.stderr and "empty" in result.stderr
    assert _digest(folder) == before


def test_missing_token(folder: Path) -> None:
    text = (folder / "fuota.toml").read_text().replace('token = "sim-token"', 'token_env = "FUOTA_TEST_NO_SUCH_TOKEN"')
    (folder / "fuota.toml").write_text(text)
    _campaign_with(folder, "")
    before = _digest(folder)
    result = fuota(folder, "launch", "bad.toml")
    assert result.returncode == 2 and "FUOTA_TEST_NO_SUCH_TOKEN" in result.stderr
    assert _digest(folder) == before


def test_ended_campaign_name_is_refused(folder: Path) -> None:
    assert fuota(folder, "abort", "good").returncode == 0
    before = _digest(folder)
    result = fuota(folder, "launch", "c.toml")
    assert result.returncode == 2 and "good" in result.stderr and "ended" in result.stderr
    assert _digest(folder) == before


def test_relaunching_a_name_under_way_resumes_it(folder: Path) -> None:
    result = fuota(folder, "launch", "c.toml", "--json")
    assert result.returncode == 0 and '"resumed": true' in result.stdout


def test_plan_shows_the_fragmentation(folder: Path) -> None:
    result = fuota(folder, "plan", "c.toml", "--json", "--offline")  # nothing listens at the back end's address
    assert result.returncode == 0, result.stderr
    assert '"nb_frag": 11' in result.stdout and '"redundancy": 3' in result.stdout


def test_plan_of_the_iotsquare_sample_and_its_forecast(tmp_path: Path) -> None:
    # IoTSquare's section 9.3 sample: 13737 bytes at 0.3 → nbFrag 287, fragSize 48, padding 39, redundancy 86.
    write_config(tmp_path, iotsquare("http://127.0.0.1:9"))
    write_campaign(tmp_path, "sample", DEVICES, firmware=bytes(13737))
    args = ("--json", "--offline", "--target", "0.99", "--sweep", "--chart", "sweep.svg")
    result = fuota(tmp_path, "plan", "c.toml", *args)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    plan = data["deployments"][0]["plan"]
    assert (plan["nb_frag"], plan["frag_size"], plan["padding"], plan["redundancy"]) == (287, 48, 39, 86)
    assert plan["airtime_ms"] == 2793.5  # EU868 RX2: DR0, SF12/125 kHz, a 64-byte PHYPayload
    assert plan["interval_ms"] == pytest.approx(27934.7)  # the 10 % duty cycle of 869.4–869.65 MHz
    assert plan["send_duration_s"] == pytest.approx(373 * 27.9347, rel=1e-3)
    assert 0.99 <= plan["p_decode"] <= 1
    advice = data["recommendations"][0]
    assert advice["redundancy"] < 86 and advice["p_decode"] >= 0.99
    assert len(data["sweep"]["rows"]) == 11 and (tmp_path / "sweep.svg").read_text().startswith("<svg")
