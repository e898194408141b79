"""Back ends built from the configuration: one place that knows which adapter serves which `kind`."""

from __future__ import annotations

from fuota.backends.base import Backend
from fuota.config import BackendConfig

__all__ = ["make_backend"]


def make_backend(name: str, config: BackendConfig) -> Backend:
    """The adapter for `[backends.NAME]`; raises ConfigError when its token is missing."""
    from fuota.backends.iotsquare import IoTSquareBackend

    return IoTSquareBackend(
        name=name,
        base_url=config.base_url,
        token=config.secret(name),
        token_header=config.token_header,
        timeout=config.timeout,
    )
