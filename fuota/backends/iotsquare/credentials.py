"""Where the IoTSquare token comes from, read again at every request so that a rotated token is picked up at once.

The spec has no authentication section, and its codes 1003/1004 say "please log in again": tokens expire. An
operator rotates one without a restart by rewriting the file of `token_file`, or (for a process started anew with
the same configuration) the variable of `token_env`; a literal `token` never changes. Each request asks its
TokenSource for the current value:

    TokenSource.literal(value)      the configuration's `token`
    TokenSource.env(name)           os.environ[name], read at each call
    TokenSource.file(path)          the file's text, stripped, read at each call

A token that cannot be read or that an HTTP header cannot carry is an AuthError naming its source — never quoting
the token, which httpx and h11 would do in their own errors. The runner treats an AuthError once a task exists as
"credentials refused", waiting for a good token (fuota.service.runner), so a token file caught mid-rewrite only
delays the next call.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from fuota.backends.config import HEADER_VALUE
from fuota.backends.errors import AuthError

__all__ = ["TokenSource"]


class TokenSource:
    """A callable returning the token to send now; AuthError naming the source when there is none to send."""

    def __init__(self, where: str, read: Callable[[], str | None]) -> None:
        self.where = where  # e.g. "token_file = '/etc/fuota/token'": what the operator fixes
        self._read = read

    @classmethod
    def literal(cls, value: str) -> TokenSource:
        """A token given in the configuration: the same at every call."""
        return cls("token", lambda: value)

    @classmethod
    def env(cls, name: str) -> TokenSource:
        """The environment variable `name`, read at every call."""
        return cls(f"token_env = {name!r}", lambda: os.environ.get(name))

    @classmethod
    def file(cls, path: Path) -> TokenSource:
        """The file at `path`, read and stripped at every call (a trailing newline is not part of the token)."""
        return cls(f"token_file = {str(path)!r}", lambda: _read_file(path))

    def __call__(self) -> str:
        """The token as it is now; AuthError when it is missing, empty or not a header value."""
        try:
            token = self._read()
        except (OSError, ValueError) as exc:  # ValueError: a path holding a NUL byte
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise AuthError(
                f"{self.where}: cannot read the token ({why}): write the token into that file, readable by fuota"
            ) from None
        if not token:
            raise AuthError(f"{self.where}: no token there (unset or empty): put the token there")
        if not HEADER_VALUE.fullmatch(token):
            raise AuthError(  # the token itself is a secret: never shown
                f"{self.where}: the token holds characters an HTTP header cannot carry (spaces at its start, control "
                "or non-ASCII characters): copy it again"
            )
        return token

    def __repr__(self) -> str:
        return f"TokenSource({self.where})"


def _read_file(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace").strip()
