"""The registry of back-end kinds: the one place outside the vendor folders that names them.

Adding a back end = a new folder fuota/backends/<vendor>/ declaring its BackendKind, and one line in KINDS below.
Everything else — the configuration's `[backends.NAME]` models, the campaign file's tables, planning, building the
adapters — asks this registry.
"""

from __future__ import annotations

import logging

from fuota.backends.base import Backend, BackendKind
from fuota.backends.config import BackendConfig
from fuota.backends.iotsquare.kind import IoTSquareKind
from fuota.backends.milesight.kind import MilesightKind
from fuota.backends.untrusted import InertBackend
from fuota.core.settings import ConfigError

__all__ = ["KINDS", "kind_of", "make_backend"]

log = logging.getLogger("fuota.backends")

KINDS: dict[str, BackendKind] = {kind.name: kind for kind in (IoTSquareKind(), MilesightKind())}


def kind_of(kind: str) -> BackendKind:
    """The BackendKind called `kind`; ConfigError listing the known ones otherwise."""
    try:
        return KINDS[kind]
    except KeyError:
        raise ConfigError(f"kind = {kind!r} is not a kind of back end fuota knows: one of {', '.join(KINDS)}") from None


def make_backend(name: str, config: BackendConfig) -> Backend:
    """The adapter for `[backends.NAME]`; raises ConfigError naming the back end when a secret or a file it needs
    is missing, or a value passed the configuration's checks but the adapter still cannot use it. Its answers and
    errors come out inert (fuota.backends.untrusted)."""
    if config.insecure:
        log.warning(
            "back end %s: insecure = true: its server's certificate is not verified, so anyone on the way can "
            "impersonate it and read its secrets; give its CA (ca_file / tls_ca) instead",
            name,
        )
    backend = kind_of(config.kind).connect(name, config)
    # The edge where back-end text enters fuota: made inert, with this back end's secrets redacted (read again at
    # each call, so that a rotated token is redacted too).
    return InertBackend(backend, lambda: (getattr(config, "secret", lambda _name: None)(name),))
