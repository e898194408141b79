"""Tiny raw TCP servers on 127.0.0.1 that misbehave as a slow or dead HTTP back end does, for the deadline tests.

    trickle(every)  reads the request, answers `200 OK`, then one header line every `every` seconds, for ever
    silent()        accepts the connection, reads the request and never answers
    deaf()          accepts the connection and never reads (a tiny receive buffer, so a large request blocks)

Each is a context manager yielding the server (its `url`, and `lines`: header lines sent so far); leaving it closes
every connection and stops its threads.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress

__all__ = ["RawServer", "deaf", "silent", "trickle"]

_TINY_BUFFER = 4096


class RawServer:
    """A listening socket whose every connection is handed to `serve(connection, server)` on its own thread."""

    def __init__(self, serve: Callable[[socket.socket, RawServer], None], *, receive_buffer: int | None = None) -> None:
        self._listener = socket.socket()
        if receive_buffer is not None:  # set before listen: accepted connections inherit it
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen()
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.lines = 0
        self.stopped = threading.Event()
        self._serve = serve
        self._connections: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # closed
            self._connections.append(connection)
            thread = threading.Thread(target=self._serve, args=(connection, self), daemon=True)
            self._threads.append(thread)
            thread.start()

    def close(self) -> None:
        """Stop serving: close the listener and every connection, and wait for the threads."""
        self.stopped.set()
        with suppress(OSError):  # wakes the accept in progress (closing alone does not); may find nothing to wake
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for connection in self._connections:
            connection.close()
        for thread in self._threads:
            thread.join(5)


@contextmanager
def _running(server: RawServer) -> Iterator[RawServer]:
    try:
        yield server
    finally:
        server.close()


def _read_request(connection: socket.socket) -> None:
    """Read up to the end of the request's headers (its body, if any, is left unread)."""
    seen = b""
    while b"\r\n\r\n" not in seen:
        try:
            chunk = connection.recv(65536)
        except OSError:
            return
        if not chunk:
            return
        seen += chunk


def trickle(every: float = 1.5) -> AbstractContextManager[RawServer]:
    """A server that sends `200 OK` and then one header line every `every` seconds, never ending its headers."""

    def serve(connection: socket.socket, server: RawServer) -> None:
        _read_request(connection)
        try:
            connection.sendall(b"HTTP/1.1 200 OK\r\n")
            while not server.stopped.wait(every):
                server.lines += 1
                connection.sendall(f"X-Slow-{server.lines}: still coming\r\n".encode())
        except OSError:
            return  # the client gave up and closed

    return _running(RawServer(serve))


def silent() -> AbstractContextManager[RawServer]:
    """A server that reads the request and never answers."""

    def serve(connection: socket.socket, server: RawServer) -> None:
        _read_request(connection)
        server.stopped.wait()

    return _running(RawServer(serve))


def deaf() -> AbstractContextManager[RawServer]:
    """A server that accepts and never reads: a request larger than the socket buffers cannot be sent whole."""

    def serve(connection: socket.socket, server: RawServer) -> None:
        server.stopped.wait()

    return _running(RawServer(serve, receive_buffer=_TINY_BUFFER))
