"""`fuota daemon` processes for tests: start one (under a name, with a lease, serving the dashboard), stop it with
SIGTERM or kill it with SIGKILL, and wait for a campaign to end in the store the configuration names."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from fuota.core.model import CampaignState
from fuota.store import Store
from tests.support.waiting import wait_for

__all__ = ["Daemon", "Stopped", "kill_daemon", "start_daemon", "stop_daemon", "wait_campaign"]

_DASHBOARD = re.compile(r"dashboard on (http://\S+)/campaigns")


@dataclass(frozen=True)
class Stopped:
    """How a daemon ended: its exit code, the seconds from the signal to its exit, whether it had to be killed (it
    did not exit within the time it was given) and everything it logged."""

    code: int
    seconds: float
    killed: bool
    log: str


@dataclass
class Daemon:
    """A running `fuota daemon`: its process, the folder it runs in and the file its stdout and stderr go to."""

    process: subprocess.Popen
    folder: Path
    log: Path
    _url: str | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def poll(self) -> int | None:
        """Its exit code, or None while it runs."""
        return self.process.poll()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def url(self, timeout: float = 30) -> str:
        """The dashboard's URL (http://HOST:PORT), once the daemon started with `http=` has logged it."""
        if self._url is None:

            def logged() -> str | None:
                if found := _DASHBOARD.search(self.log_text()):
                    return found.group(1)
                if self.poll() is not None:
                    raise AssertionError(f"the daemon exited {self.poll()}: {self.log_text()[-2000:]}")
                return None

            self._url = wait_for(logged, timeout, f"the dashboard's URL in {self.log}")
        return self._url


def _new_log(folder: Path) -> Path:
    """folder/daemon.log, or daemon-2.log, daemon-3.log… for the second and later daemons of the folder."""
    for n in range(1, 10_000):
        path = folder / ("daemon.log" if n == 1 else f"daemon-{n}.log")
        try:
            path.open("x").close()
        except FileExistsError:
            continue
        return path
    raise RuntimeError(f"too many daemon logs in {folder}")


def start_daemon(
    folder: Path,
    *args: str,
    http: str | None = None,
    name: str | None = None,
    lease_seconds: float | None = None,
) -> Daemon:
    """`fuota daemon --log-json` in `folder` with folder/fuota.toml, its output to a log of its own in `folder`;
    `http` serves the dashboard there (e.g. "127.0.0.1:0": any free port, see `Daemon.url()`), `name` and
    `lease_seconds` are its --name and --lease-seconds, `args` more options."""
    options = ["--log-json"]
    options += [] if http is None else ["--http", http]
    options += [] if name is None else ["--name", name]
    options += [] if lease_seconds is None else ["--lease-seconds", f"{lease_seconds:g}"]
    log = _new_log(folder)
    with log.open("a") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "fuota", "--config", str(folder / "fuota.toml"), "daemon", *options, *args],
            cwd=folder,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    return Daemon(process, folder, log)


def stop_daemon(daemon: Daemon, within: float = 10) -> Stopped:
    """SIGTERM, then SIGKILL if it has not exited within `within` seconds (then `killed`, and its code -9). A
    daemon that already exited is only waited for."""
    process = daemon.process
    began, killed = time.monotonic(), False
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=within)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            killed = True
    return Stopped(process.returncode, time.monotonic() - began, killed, daemon.log_text())


def kill_daemon(daemon: Daemon) -> None:
    """SIGKILL: no handler runs, nothing is flushed or released."""
    if daemon.process.poll() is None:
        daemon.process.send_signal(signal.SIGKILL)
    daemon.process.wait()


def wait_campaign(url: str, name: str, timeout: float = 120) -> CampaignState:
    """The campaign's final state, once it ended in the store at `url`; AssertionError after `timeout` seconds."""
    with Store(url) as store:

        def ended() -> CampaignState | None:
            record = store.campaign(name)
            return record.state if record is not None and record.state.ended else None

        return wait_for(ended, timeout, f"campaign {name} ending", every=0.2)
