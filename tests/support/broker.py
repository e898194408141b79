"""A real Mosquitto broker for tests: started on a free loopback port with a generated configuration.

`make test` installs Mosquitto (Debian's package) when it is missing and the user is root. A test that needs a
broker and finds none fails, saying how to install it: a skipped broker test would prove nothing.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import pwd
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.waiting import wait_for

__all__ = ["Broker", "TLSFiles", "make_tls_files"]


def _mosquitto() -> str:
    found = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if found is None:
        raise RuntimeError(
            "mosquitto is not installed: `make test` installs it as root (apt-get install mosquitto); "
            "otherwise install Debian's mosquitto package"
        )
    return found


_PORT_ATTEMPTS = 5


class _PortTaken(RuntimeError):
    """Another process bound the chosen port before mosquitto did."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class TLSFiles:
    """A self-signed CA and a server certificate for 127.0.0.1, as PEM files."""

    ca: Path
    cert: Path
    key: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_tls_files(folder: Path) -> TLSFiles:
    """Generate a CA and a server certificate (SAN 127.0.0.1 and localhost) in `folder`."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("fuota test CA"))
        .issuer_name(_name("fuota test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = TLSFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return files


@dataclass
class Broker:
    """One mosquitto process on 127.0.0.1; `restart()` stops it and starts it again on the same port. A
    `persistent` broker keeps its sessions across a restart (saved on stop), as a production broker configured
    with persistence does: subscriptions of clients with a persistent session, and the messages queued for them
    while they reconnect."""

    folder: Path
    tls: TLSFiles | None = None
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen | None = None
    persistent: bool = False
    _started: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        """mqtt://127.0.0.1:PORT, or mqtts:// with TLS."""
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    def start(self) -> Broker:
        """Start mosquitto and wait until it accepts connections. The port was free when chosen, but another
        process may bind it before mosquitto does: a first start then tries a new port (a restart keeps its own,
        which its clients reconnect to)."""
        for _ in range(_PORT_ATTEMPTS - 1):
            try:
                return self._start_once()
            except _PortTaken:
                if self._started:
                    raise
                self.port = _free_port()
        return self._start_once()

    def _start_once(self) -> Broker:
        config = self.folder / f"mosquitto-{self.port}.conf"
        # Run as whoever runs the tests: as root, mosquitto would otherwise become user mosquitto and could not
        # read the generated certificates in the test's private folder.
        user = pwd.getpwuid(os.getuid()).pw_name
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true", f"user {user}"]
        if self.persistent:
            lines += ["persistence true", f"persistence_location {self.folder}/", "queue_qos0_messages true"]
        else:
            lines.append("persistence false")
        lines.append("set_tcp_nodelay true")  # as a production broker should: no Nagle delay on small packets
        if self.tls is not None:
            lines += [f"cafile {self.tls.ca}", f"certfile {self.tls.cert}", f"keyfile {self.tls.key}"]
        config.write_text("\n".join(lines) + "\n")
        log_path = self.folder / f"mosquitto-{self.port}.log"
        log = log_path.open("ab")
        offset = log.tell()  # the log of this start: a restart appends to the same file
        self.process = subprocess.Popen([_mosquitto(), "-c", str(config)], stdout=log, stderr=subprocess.STDOUT)
        process = self.process

        def listening() -> bool:
            # Mosquitto's own word, not a test connection: a connection to a port another process took would
            # succeed too.
            with log_path.open("rb") as read:
                read.seek(offset)
                said = read.read().decode(errors="replace")
            if "Address already in use" in said:
                process.wait(5)
                raise _PortTaken(self.port)
            if process.poll() is not None:
                raise RuntimeError(f"mosquitto exited at start: see {log.name}")
            return re.search(r"mosquitto version \S+ running", said) is not None

        wait_for(listening, 10, f"mosquitto listening on 127.0.0.1:{self.port} (its log: {log.name})", every=0.05)
        self._started = True
        return self

    def stop(self) -> None:
        """Stop mosquitto (SIGTERM, then SIGKILL)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self, downtime: float = 0.5) -> None:
        """Stop the broker, wait `downtime` seconds, start it again on the same port."""
        self.stop()
        time.sleep(downtime)
        self.start()
