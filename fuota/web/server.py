"""Serving the dashboard from inside `fuota daemon`: uvicorn on a background thread, beside the scheduler.

The socket is bound here, before uvicorn starts, so that a taken port or a bad host is a DashboardError naming
the address at once rather than a message lost in the server's thread; port 0 picks a free port, whose URL is
then in `Dashboard.url`.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time

import uvicorn
from starlette.applications import Starlette

__all__ = ["DEFAULT_HOST", "Dashboard", "DashboardError", "parse_address"]

DEFAULT_HOST = "127.0.0.1"  # only this machine, unless told otherwise
log = logging.getLogger("fuota.web")


class DashboardError(Exception):
    """The dashboard cannot listen where it was asked; the message names the address and what to do."""


def parse_address(text: str) -> tuple[str, int]:
    """`HOST:PORT`, `[V6]:PORT`, `:PORT` or `PORT` as (host, port); the host defaults to 127.0.0.1."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "", text
    host = host.removeprefix("[").removesuffix("]") or DEFAULT_HOST
    if not (port.isascii() and port.isdigit()) or int(port) > 65535:  # "²".isdigit() holds, int("²") fails
        raise DashboardError(f"--http = {text!r}: expected HOST:PORT or PORT with a port 0–65535, e.g. 127.0.0.1:8080")
    return host, int(port)


class Dashboard:
    """A Starlette app served by uvicorn on its own thread until `stop`."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        family = socket.AF_INET6 if _is_v6(host) else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._socket.bind((host, port))
        except (OSError, OverflowError) as exc:
            self._socket.close()
            raise DashboardError(
                f"--http {host}:{port}: cannot listen there ({exc}); choose another port or host"
            ) from exc
        bound_host, bound_port = self._socket.getsockname()[:2]
        shown = f"[{bound_host}]" if family == socket.AF_INET6 else bound_host
        self.url = f"http://{shown}:{bound_port}"
        config = uvicorn.Config(app, log_config=None, access_log=False, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)

    def start(self, timeout: float = 10.0) -> Dashboard:
        """Start serving; return once the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise DashboardError(f"the dashboard at {self.url} did not start; see the log above")
            time.sleep(0.02)
        log.info("dashboard on %s/campaigns, metrics on %s/metrics", self.url, self.url)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving: open requests get `timeout` seconds to finish."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._socket.close()


def _is_v6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False  # a name: resolved by bind, as IPv4
