"""A real PostgreSQL server for tests: its own data directory, on a free loopback port, gone with the session.

`make test` installs Debian's postgresql package when it is missing and the user is root; only its binaries are
used (initdb, postgres), never the Debian cluster. A test that needs PostgreSQL and finds no binaries fails,
saying how to install them: a skipped database test would prove nothing.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user (the package creates
it) in a temporary directory it owns. The server is not a child of the test session but of a watchdog (this file
run as a script) that stops it and removes the directory as soon as its standard input closes, which happens when
the session stops it or dies in any way, SIGKILL included: no server outlives the tests.

Every connection from 127.0.0.1 is trusted, except that role PASSWORD_ROLE must give PASSWORD (scram), so that
tests can check both a password that works and one that is refused.
"""

from __future__ import annotations

import itertools
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

__all__ = ["PASSWORD", "PASSWORD_ROLE", "PostgresServer", "find_bin_dir"]

SUPERUSER = "postgres"
PASSWORD_ROLE = "fuota_password"
PASSWORD = "s3cret-pg"
START_TIMEOUT_S = 30
INSTALL_HINT = (
    "PostgreSQL's server binaries (initdb, postgres) were not found in PATH or /usr/lib/postgresql/*/bin: "
    "run `make test` as root, which installs them, or install Debian's postgresql package "
    "(apt-get install postgresql)"
)
# Durability is worthless for a database thrown away after the tests; speed is not.
_SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "autovacuum": "off",
    "max_connections": "200",
    "shared_buffers": "32MB",
    "log_min_messages": "warning",
}
_HBA = f"""\
local all all trust
host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
"""


def find_bin_dir() -> Path | None:
    """The folder of the newest PostgreSQL server binaries: /usr/lib/postgresql/<newest>/bin, else PATH's."""

    def version(folder: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", folder.parent.name)) or (0,)

    debian = sorted(
        (d for d in Path("/usr/lib/postgresql").glob("*/bin") if (d / "initdb").is_file()), key=version, reverse=True
    )
    if debian:
        return debian[0]
    initdb = shutil.which("initdb")
    # initdb finds postgres beside its real self, so the folder is the one of the resolved path.
    return None if initdb is None else Path(initdb).resolve().parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_user() -> pwd.struct_passwd | None:
    """The account the server runs as: `postgres` when the tests run as root, None (this user) otherwise."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SUPERUSER)
    except KeyError:
        raise RuntimeError(
            f"PostgreSQL refuses to run as root and there is no {SUPERUSER!r} user to run it as: "
            "install Debian's postgresql package (apt-get install postgresql), which creates it"
        ) from None


class PostgresServer:
    """One PostgreSQL server in a temporary directory; `create_database()` hands out fresh databases' URLs."""

    def __init__(self) -> None:
        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise RuntimeError(INSTALL_HINT)
        self._bin = bin_dir
        self._user = _server_user()
        self.port = _free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="fuota-pg-"))
        """Data directory `data/`, the unix socket and `server.log`; removed when the server stops."""
        self._watchdog: subprocess.Popen | None = None
        self._names = itertools.count()

    def url(self, database: str, *, user: str = SUPERUSER, password: str | None = None) -> str:
        """A SQLAlchemy URL (psycopg 3 driver) of `database` on this server, over TCP on 127.0.0.1."""
        credentials = user if password is None else f"{user}:{password}"
        return f"postgresql+psycopg://{credentials}@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresServer:
        """Create the cluster, start the server under its watchdog and wait until it accepts connections."""
        try:
            self._init_cluster()
            self._start_watchdog()
            self._wait_ready()
            with self._admin() as conn:
                conn.execute(f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{PASSWORD}'")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server at once (immediate shutdown: nothing is worth keeping) and remove its directory."""
        if self._watchdog is not None:
            self._watchdog.stdin.close()  # the watchdog's cue
            try:
                self._watchdog.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._watchdog.kill()
                self._watchdog.wait()
            self._watchdog = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def create_database(self, *, owner: str = SUPERUSER) -> str:
        """Create an empty database with a name never used before and return its URL (connecting as `owner`,
        with PASSWORD if the owner is PASSWORD_ROLE)."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
        return self.url(name, user=owner, password=PASSWORD if owner == PASSWORD_ROLE else None)

    def drop_database(self, url: str) -> None:
        """Drop the database of `url`, disconnecting whoever is still connected (say, a daemon a test left)."""
        name = url.rsplit("/", 1)[1]
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # --- internals ------------------------------------------------------------------------------------------

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True, connect_timeout=5
        )

    def _as_server_user(self) -> dict[str, object]:
        if self._user is None:
            return {}
        return {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}

    def _init_cluster(self) -> None:
        if self._user is not None:
            os.chown(self.folder, self._user.pw_uid, self._user.pw_gid)
        data = self.folder / "data"
        initdb = [str(self._bin / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8"]
        done = subprocess.run(
            [*initdb, "--locale=C", "--no-sync", "--no-instructions"],
            capture_output=True,
            text=True,
            check=False,
            cwd=self.folder,
            **self._as_server_user(),
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        (data / "pg_hba.conf").write_text(_HBA)

    def _start_watchdog(self) -> None:
        settings = {**_SERVER_SETTINGS, "port": str(self.port), "unix_socket_directories": str(self.folder)}
        server = [str(self._bin / "postgres"), "-D", str(self.folder / "data")]
        server += [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
        owner = [] if self._user is None else ["--uid", str(self._user.pw_uid), "--gid", str(self._user.pw_gid)]
        with (self.folder / "server.log").open("ab") as log:
            self._watchdog = subprocess.Popen(
                [sys.executable, __file__, str(self.folder), *owner, "--", *server],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Out of the terminal's process group: Ctrl-C reaches pytest, which then stops the server cleanly.
                start_new_session=True,
            )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self._watchdog.poll() is not None:
                raise RuntimeError(f"PostgreSQL exited at start: {self._log()}")
            try:
                self._admin().close()
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"PostgreSQL did not accept connections on 127.0.0.1:{self.port} within {START_TIMEOUT_S} s "
                        f"({exc}): {self._log()}"
                    ) from exc
                time.sleep(0.05)

    def _log(self) -> str:
        try:
            return (self.folder / "server.log").read_text(errors="replace").strip()[-2000:]
        except OSError:
            return "(no server log)"


def _watch(folder: Path, uid: int | None, gid: int | None, server: list[str]) -> None:
    """Run the server until standard input closes (or SIGTERM comes), then stop it and remove `folder`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    owner = {} if uid is None else {"user": uid, "group": gid, "extra_groups": []}
    process = subprocess.Popen(server, stdin=subprocess.DEVNULL, cwd=folder, **owner)
    try:
        sys.stdin.buffer.read()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGQUIT)  # immediate shutdown
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    _folder, *_rest = sys.argv[1:]
    _split = _rest.index("--")
    _ids = dict(zip(_rest[:_split:2], map(int, _rest[1:_split:2]), strict=True))
    _watch(Path(_folder), _ids.get("--uid"), _ids.get("--gid"), _rest[_split + 1 :])
