"""How the IoTSquare adapter tolerates 1008 "Query Error" while polling a task.

The spec gives 1008 no detail; servers answer it when a look-up fails, which a busy database does now and then as
well as a task that is really gone. A single one must not fail a deployment, and an endless run of them must not
keep it open: QueryErrors lets codes.QUERY_ERROR_RETRIES answers in a row through as TransientError (the runner
records each as a "retry" event and polls again at its next deadline), and turns the next one into the
RejectedError that fails the deployment. Counts are per task and endpoint, and a good answer starts them anew.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from fuota.backends.errors import RejectedError, TransientError
from fuota.backends.iotsquare.codes import QUERY_ERROR, QUERY_ERROR_RETRIES

__all__ = ["QueryErrors"]


class QueryErrors:
    """Consecutive 1008 answers per (task, endpoint), shared by the threads polling different deployments."""

    def __init__(self, limit: int = QUERY_ERROR_RETRIES) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._seen: Counter[tuple[object, str]] = Counter()

    @contextmanager
    def tolerated(self, task: object, endpoint: str) -> Iterator[None]:
        """Run a poll of `task` on `endpoint`: a 1008 RejectedError within the limit leaves as TransientError."""
        key = (task, endpoint)
        try:
            yield
        except RejectedError as exc:
            if exc.code != QUERY_ERROR:
                raise
            with self._lock:
                self._seen[key] += 1
                seen = self._seen[key]
                if seen > self.limit:
                    del self._seen[key]
            if seen > self.limit:
                raise RejectedError(f"{exc}: {seen} answers in a row, giving up", code=exc.code, msg=exc.msg) from None
            raise TransientError(
                f"{exc} ({seen} of {self.limit} in a row tolerated while polling; asking again)",
                code=exc.code,
                msg=exc.msg,
            ) from None
        else:
            with self._lock:
                self._seen.pop(key, None)
