"""What every `[backends.NAME]` table shares, and the secret and header rules the vendors' models apply.

Each vendor's own model (fuota/backends/<vendor>/kind.py) subclasses BackendConfig; fuota.config validates a
configuration's back ends against the model of the `kind` each names.
"""

from __future__ import annotations

import os
import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr

from fuota.core.numbers import number, seconds
from fuota.core.settings import A_WEEK, DEFAULT_GIVE_UP_AFTER, DEFAULT_POLL_INTERVAL, ConfigError

__all__ = ["HEADER_NAME", "HEADER_VALUE", "BackendConfig", "Strict", "address", "from_env", "holds_credentials"]

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


def holds_credentials(data: object, field: str) -> bool:
    """Whether the raw configuration `data` gives `field` a URL with user:password@ in it. Checked before the URL's
    other checks, since their messages quote the URL and so would show the password."""
    url = data.get(field) if isinstance(data, dict) else None
    return isinstance(url, str) and "@" in url.partition("://")[2].partition("/")[0]


def address(url: str, what: str, form: str, example: str) -> str:
    """`url` when it parses with a host and a port within 0–65535; else ValueError saying it is not a `what`, the
    `form` to write and an `example`."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading the port is what checks it
    except ValueError as exc:
        raise ValueError(f"not a {what} ({exc}): write {form}, the port within 0–65535") from None
    if not parts.hostname:
        raise ValueError(f"no host: write {form}, e.g. {example}")
    return url
