"""Back ends built from the configuration: one place that knows which adapter serves which `kind`."""

from __future__ import annotations

import logging
import ssl

from fuota.backends.base import Backend
from fuota.config import BackendConfig, ConfigError, IoTSquareConfig

__all__ = ["make_backend"]

log = logging.getLogger("fuota.backends")


def make_backend(name: str, config: BackendConfig) -> Backend:
    """The adapter for `[backends.NAME]`; raises ConfigError naming the back end when a secret or a file it needs
    is missing, or a value passed the configuration's checks but the adapter still cannot use it."""
    try:
        return _make(name, config)
    except ConfigError:
        raise
    except ValueError as exc:
        raise ConfigError(f"backends.{name}: {exc}") from exc


def _make(name: str, config: BackendConfig) -> Backend:
    if config.insecure:
        log.warning(
            "back end %s: insecure = true: its server's certificate is not verified, so anyone on the way can "
            "impersonate it and read its secrets; give its CA (ca_file / tls_ca) instead",
            name,
        )
    if isinstance(config, IoTSquareConfig):
        from fuota.backends.iotsquare.adapter import IoTSquareBackend

        return IoTSquareBackend(
            name=name,
            base_url=config.base_url,
            token=config.secret(name),
            token_header=config.token_header,
            timeout=config.timeout,
            retry_timeout=min(60.0, config.give_up_after),
            verify=_verify(name, config),
        )
    from fuota.backends.milesight.adapter import MilesightBackend

    return MilesightBackend(
        name=name,
        broker_url=config.broker_url,
        request_topic=config.request_topic,
        response_topic=config.response_topic,
        client_id=config.client_id,
        username=config.username,
        password=config.secret(name),
        tls_ca=str(config.tls_ca) if config.tls_ca else None,
        tls_cert=str(config.tls_cert) if config.tls_cert else None,
        tls_key=str(config.tls_key) if config.tls_key else None,
        tls_insecure=config.insecure,
        timeout=config.timeout,
        # Within one call, retries stop where the runner would give the back end up anyway.
        retry_timeout=min(60.0, config.give_up_after),
    )


def _verify(name: str, config: IoTSquareConfig) -> ssl.SSLContext | bool:
    if config.insecure:
        return False
    if config.ca_file is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(config.ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"backends.{name}.ca_file = {str(config.ca_file)!r} cannot be used as a CA: {exc}; give a PEM file"
        ) from exc
