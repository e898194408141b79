"""Running the real `fuota` command in a subprocess in a folder holding its configuration (tests.support.config_files
writes it), and waiting for a deployment of it to reach a state."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fuota.store import Store
from tests.support.config_files import sqlite_url
from tests.support.waiting import wait_for


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

    def reached() -> bool:
        if store_url is None and not (folder / "fuota.db").exists():
            return False
        with Store(store_url or sqlite_url(folder)) as store:
            records = store.campaigns()
            return bool(records) and any(d.state == state for d in store.deployments(records[0].id))

    wait_for(reached, timeout, f"a deployment in {state}", every=0.2)
