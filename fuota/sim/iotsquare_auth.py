"""The IoTSquare simulator's token: which one it accepts, when it expires, and its rotation while serving.

The spec has no authentication section; its codes say what a client meets: 1003 "No Token, Please log in again"
and 1004 "Invalid Token, Please log in again". The simulator answers

    no token header, or an empty one              1003
    a token other than the accepted one           1004
    the accepted token after `expires_after` calls 1003 (it expired: log in again), until the token is rotated

`rotate(new)` makes `new` the accepted token (the old one is then 1004) and starts its count of calls afresh, as
an operator logging in again would. The token is accepted alone or after "Bearer ".
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from email.message import Message

from fuota.sim.iotsquare_codes import ApiError

__all__ = ["SimToken"]


class SimToken:
    """The token the simulator accepts in `header`, expiring after `expires_after` accepted calls (None: never)."""

    def __init__(self, token: str, header: str = "Authorization", expires_after: int | None = None) -> None:
        if expires_after is not None and expires_after < 0:
            raise ValueError(f"token_expires_after = {expires_after}: a number of calls, ≥ 0 (None: never)")
        self.header = header
        self.expires_after = expires_after
        self._token = token
        self._used = 0  # calls accepted with the current token
        self._lock = threading.Lock()

    @property
    def token(self) -> str:
        """The token accepted now."""
        with self._lock:
            return self._token

    @property
    def expired(self) -> bool:
        """Whether the current token has spent its calls."""
        with self._lock:
            return self.expires_after is not None and self._used >= self.expires_after

    def rotate(self, new: str) -> None:
        """Accept `new` from now on, for `expires_after` calls again."""
        if not new.strip():
            raise ValueError("a rotated token cannot be empty")
        with self._lock:
            self._token, self._used = new, 0

    def authorize(self, headers: Message | Mapping[str, str]) -> None:
        """Count one call carrying `headers`; ApiError 1003/1004 when it may not be served."""
        value = headers.get(self.header)
        if value is None or not value.strip():
            raise ApiError(1003, f"no {self.header} header")
        with self._lock:
            if value.strip().removeprefix("Bearer ").strip() != self._token:
                raise ApiError(1004, f"wrong token in {self.header}")
            if self.expires_after is not None and self._used >= self.expires_after:
                raise ApiError(1003, f"the token expired after {self.expires_after} calls: log in again")
            self._used += 1
