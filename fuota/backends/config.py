"""What every `[backends.NAME]` table shares, and the secret and header rules the vendors' models apply.

Each vendor's own model (fuota/backends/<vendor>/kind.py) subclasses BackendConfig; fuota.config validates a
configuration's back ends against the model of the `kind` each names.
"""

from __future__ import annotations

import os
import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, SecretStr

from fuota.core.numbers import number, seconds
from fuota.core.settings import A_WEEK, DEFAULT_GIVE_UP_AFTER, DEFAULT_POLL_INTERVAL, ConfigError

__all__ = ["HEADER_NAME", "HEADER_VALUE", "BackendConfig", "Strict", "from_env"]

# RFC 9110 section 5.6.2: a header name is a token; its value printable ASCII, what httpx and h11 send unescaped.
HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
HEADER_VALUE = re.compile(r"[\x21-\x7e][\x20-\x7e]*")


class Strict(BaseModel):
    """A configuration table: unknown keys are refused, values never change once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BackendConfig(Strict):
    """The fields of `[backends.NAME]` every kind has; `kind` says which vendor's model holds the rest."""

    kind: str
    insecure: bool = False  # accept any certificate: only for a test server, never across a network
    timeout: Annotated[float, seconds(300)] = 10.0  # seconds a call may take
    poll_interval: Annotated[float, seconds(3600)] = DEFAULT_POLL_INTERVAL
    give_up_after: Annotated[float, seconds(A_WEEK)] = DEFAULT_GIVE_UP_AFTER
    max_concurrent: Annotated[int, number(ge=1)] | None = None  # deployments under way at once; None: no limit


def from_env(name: str, field: str, value: SecretStr | None, env: str | None, required: bool) -> str | None:
    """A secret of back end `name` from the file (`field`) or from the environment variable it names
    (`field`_env); ConfigError naming the back end when it is required and missing."""
    if value is not None:
        return value.get_secret_value()
    if env:
        found = os.environ.get(env)
        if found:
            return found
        raise ConfigError(
            f"backends.{name}.{field}_env = {env!r}: that environment variable is not set; "
            f'export {env}=… or put {field} = "…" in the configuration'
        )
    if required:
        raise ConfigError(f'backends.{name}: no {field}; set {field} = "…" or {field}_env = "VARIABLE"')
    return None
