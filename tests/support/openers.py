"""Processes that open one new, empty store at the same instant, as several daemons (or a daemon and `fuota launch`)
started together do: the race of issue 17, where one of four died with "database is locked".

    with Openers(4) as openers:
        openers.open_at_once(url)   # -> one line per process: "ok", or "error: <the exception>"

Each process imports fuota.store once, then waits for a URL on its standard input; `open_at_once` hands every
process the same URL before reading any answer, so the openings overlap as closely as separate processes can.
Importing once lets a stress test repeat the race hundreds of times on fresh databases in seconds each.
"""

from __future__ import annotations

import subprocess
import sys
from types import TracebackType

__all__ = ["Openers"]

_OPENER = """
import sys
from fuota.store import Store
print("ready", flush=True)
for line in sys.stdin:
    try:
        Store(line.strip()).close()
    except Exception as exc:
        print("error:", repr(exc).replace("\\n", " "), flush=True)
    else:
        print("ok", flush=True)
"""


class Openers:
    """`count` Python processes ready to open a store when given its URL."""

    def __init__(self, count: int) -> None:
        self._processes = [
            subprocess.Popen(
                [sys.executable, "-c", _OPENER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
            )
            for _ in range(count)
        ]
        for process in self._processes:
            assert process.stdout is not None
            ready = process.stdout.readline()
            assert ready == "ready\n", f"an opener did not start: {ready!r}"

    def open_at_once(self, url: str) -> list[str]:
        """Have every process open `url` at the same instant; each one's answer ("ok" or "error: …")."""
        for process in self._processes:
            assert process.stdin is not None
            process.stdin.write(url + "\n")
            process.stdin.flush()
        answers = []
        for process in self._processes:
            assert process.stdout is not None
            answers.append(process.stdout.readline().strip() or f"exited with {process.wait(10)}")
        return answers

    def __enter__(self) -> Openers:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        for process in self._processes:
            if process.stdin is not None:
                process.stdin.close()
        for process in self._processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
