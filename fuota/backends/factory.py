"""Back ends built from the configuration: one place that knows which adapter serves which `kind`."""

from __future__ import annotations

from fuota.backends.base import Backend
from fuota.config import BackendConfig, IoTSquareConfig

__all__ = ["make_backend"]


def make_backend(name: str, config: BackendConfig) -> Backend:
    """The adapter for `[backends.NAME]`; raises ConfigError when a secret it needs is missing."""
    if isinstance(config, IoTSquareConfig):
        from fuota.backends.iotsquare import IoTSquareBackend

        return IoTSquareBackend(
            name=name,
            base_url=config.base_url,
            token=config.secret(name),
            token_header=config.token_header,
            timeout=config.timeout,
            retry_timeout=min(60.0, config.give_up_after),
        )
    from fuota.backends.milesight import MilesightBackend

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
        timeout=config.timeout,
        # Within one call, retries stop where the runner would give the back end up anyway.
        retry_timeout=min(60.0, config.give_up_after),
    )
