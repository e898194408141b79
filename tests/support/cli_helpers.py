"""Running the real `fuota` command in a subprocess, with a configuration and campaign files in a folder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from fuota.store import Store


def fuota(
    folder: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run `python -m fuota --config folder/fuota.toml ARGS` in `folder`; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "fuota", "--config", str(folder / "fuota.toml"), *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        check=False,
    )


def write_config(
    folder: Path,
    base_url: str,
    *,
    token: str = "sim-token",
    poll: float = 0.2,
    extra: str = "",
    store_url: str | None = None,
) -> None:
    """A configuration with one IoTSquare back end called `iot` and a store at `store_url` (by default a SQLite
    file in `folder`)."""
    store_url = store_url or f"sqlite:///{folder / 'fuota.db'}"
    (folder / "fuota.toml").write_text(
        f'[store]\nurl = "{store_url}"\n\n'
        f'[backends.iot]\nkind = "iotsquare"\nbase_url = "{base_url}"\ntoken = "{token}"\n'
        f"poll_interval = {poll}\ntimeout = 5\n{extra}"
    )


def write_campaign(
    folder: Path,
    name: str,
    devices: list[str],
    *,
    firmware: bytes,
    body: str = "",
    file: str = "c.toml",
    join_timeout: float = 30,
) -> Path:
    """A campaign file sending `firmware` to `devices` through temporary groups of backend `iot`."""
    (folder / "fw.bin").write_bytes(firmware)
    path = folder / file
    listed = ", ".join(f'"{d}"' for d in devices)
    path.write_text(
        f'name = "{name}"\nfirmware = "fw.bin"\nbackend = "iot"\nredundancy_percent = 30\n'
        f"devices = [{listed}]\n{body}\n"
        '[iotsquare]\nregion = "eu868"\nsubnet = "ch_00-07"\nenable_mc_remote = true\n'
        f'gen_app_key = "504e83e6dd1a457af1bf93f99d362e89"\njoin_timeout = {join_timeout}\n'
    )
    return path


def start_run(folder: Path) -> subprocess.Popen:
    """Start `fuota run c.toml` in `folder` in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "fuota", "--config", str(folder / "fuota.toml"), "run", "c.toml"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


def wait_for_state(folder: Path, state: str, timeout: float = 60, *, store_url: str | None = None) -> None:
    """Wait until a deployment of the newest campaign in the store (`store_url`, by default folder/fuota.db) is in
    `state`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store_url is not None or (folder / "fuota.db").exists():
            with Store(store_url or f"sqlite:///{folder / 'fuota.db'}") as store:
                records = store.campaigns()
                if records and any(d.state == state for d in store.deployments(records[0].id)):
                    return
        time.sleep(0.2)
    raise AssertionError(f"no deployment reached {state} within {timeout} s")
