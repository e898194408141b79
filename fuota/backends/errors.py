"""Errors raised by back-end adapters.

    BackendError                  anything a back end refused or could not be asked
    ├── TransientError            worth retrying: connection lost, timeout, 5xx, System/Network Busy
    │   └── MalformedAnswer       an answer that breaks the spec (not JSON, a field missing or of the wrong type)
    ├── AuthError                 the token is missing or refused (IoTSquare 1003, 1004), or the certificate untrusted
    ├── NotFoundError             the task, group or device does not exist
    └── RejectedError             any other refusal, with the back end's code and message

Every error carries the back end's `code` and `msg` when it had them, and says what to do.
"""

from __future__ import annotations

__all__ = ["AuthError", "BackendError", "MalformedAnswer", "NotFoundError", "RejectedError", "TransientError"]


class BackendError(Exception):
    """A back end refused a request or could not be reached."""

    def __init__(self, message: str, *, code: int | None = None, msg: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.msg = msg


class TransientError(BackendError):
    """Worth retrying: connection lost, timeout, HTTP 5xx, IoTSquare 1001 System Busy or 1009 Network Busy.

    `silent_for`: seconds the back end had already been failing when this was raised (set by the retry loop).
    """

    silent_for: float = 0.0


class MalformedAnswer(TransientError):
    """The back end answered something its spec does not allow: not JSON, a field missing or of the wrong type.

    Recorded as an anomaly and retried like any transient failure: a server mid-upgrade or a proxy's error page
    usually passes, and a deployment whose back end keeps answering nonsense fails after give_up_after with this
    message as its reason.
    """


class AuthError(BackendError):
    """The token is missing or refused, or the server's certificate is not trusted: retrying cannot help, the
    configuration must change."""


class NotFoundError(BackendError):
    """The task, group or device named does not exist on the back end."""


class RejectedError(BackendError):
    """Any other refusal, with the back end's code and message."""
