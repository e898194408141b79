"""`fuota daemon` processes for tests: start under a name, stop with SIGTERM or kill with SIGKILL, and wait for
a campaign to end in the store the configuration names."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from fuota.core.model import CampaignState
from fuota.store import Store


def start_daemon(folder: Path, *args: str) -> subprocess.Popen:
    """`fuota daemon --log-json ARGS` with folder/fuota.toml; its log goes to folder/daemon-<pid>.log."""
    log = (folder / "daemon.log").open("a")
    return subprocess.Popen(
        [sys.executable, "-m", "fuota", "--config", str(folder / "fuota.toml"), "daemon", "--log-json", *args],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
    )


def stop_daemon(daemon: subprocess.Popen, within: float = 10) -> int:
    """SIGTERM, then SIGKILL if it has not exited within `within` seconds; its exit code."""
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=within)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
    return daemon.returncode


def kill_daemon(daemon: subprocess.Popen) -> None:
    """SIGKILL: no handler runs, nothing is flushed or released."""
    daemon.send_signal(signal.SIGKILL)
    daemon.wait()


def wait_campaign(url: str, name: str, timeout: float = 120) -> CampaignState:
    """The campaign's final state, once it ended; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    with Store(url) as store:
        while time.monotonic() < deadline:
            record = store.campaign(name)
            if record is not None and record.state.ended:
                return record.state
            time.sleep(0.2)
    raise AssertionError(f"campaign {name} did not end within {timeout} s")
