"""Configuration and campaign files: TOML, validated with pydantic, with clear errors naming field and value.

Configuration is read from `--config`, else `$FUOTA_CONFIG`, else `./fuota.toml`; without any, fuota runs with a
SQLite store in the current directory and no back ends. Environment variables override the file:
`FUOTA_STORE_URL`, and `FUOTA_BACKEND_<NAME>_<FIELD>` for a back end's field (e.g. FUOTA_BACKEND_IOT_BASE_URL).
Tokens come from the file (`token`) or from an environment variable it names (`token_env`) and are kept as
secrets: they never appear in output. A file that holds a secret and that users other than its owner may read
draws a warning. Servers' certificates are verified (against `ca_file`/`tls_ca`, else the system's CAs) unless a
back end says `insecure = true`, which draws a warning at every start.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from fuota.core.model import EUI_PATTERN, normalize_eui

__all__ = [
    "BackendConfig",
    "Config",
    "ConfigError",
    "DashboardConfig",
    "IoTSquareConfig",
    "MilesightConfig",
    "StoreConfig",
    "load_config",
    "read_toml",
]

DEFAULT_STORE_URL = "sqlite:///fuota.db"
# RFC 9110 section 5.6.2: a header name is a token; its value printable ASCII, what httpx and h11 send unescaped.
_HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
_HEADER_VALUE = re.compile(r"[\x21-\x7e][\x20-\x7e]*")

log = logging.getLogger("fuota.config")


class ConfigError(ValueError):
    """A configuration or campaign file that cannot be used; the message names the field, value and fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreConfig(_Strict):
    """`[store]`: where campaigns are kept."""

    url: str = DEFAULT_STORE_URL


def _from_env(name: str, field: str, value: SecretStr | None, env: str | None, required: bool) -> str | None:
    """A secret from the file or from the environment variable the file names."""
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


class IoTSquareConfig(_Strict):
    """`[backends.NAME] kind = "iotsquare"`: an IoTSquare server's OpenAPI."""

    kind: Literal["iotsquare"]
    base_url: Annotated[str, Field(pattern=r"^https?://")]
    token: SecretStr | None = None
    token_env: str | None = None
    token_header: Annotated[str, Field(pattern=_HEADER_NAME)] = "Authorization"
    ca_file: Path | None = None  # the CA that signed the server's certificate, when not a system CA
    insecure: bool = False  # accept any certificate: only for a test server, never across a network
    timeout: Annotated[float, Field(gt=0, le=300)] = 10.0
    poll_interval: Annotated[float, Field(gt=0, le=3600)] = 10.0
    give_up_after: Annotated[float, Field(gt=0, le=7 * 86400)] = 600.0
    max_concurrent: Annotated[int, Field(ge=1)] | None = None  # deployments under way at once; None: no limit

    @model_validator(mode="after")
    def _one_token_source(self) -> IoTSquareConfig:
        if self.token is not None and self.token_env is not None:
            raise ValueError("give either token or token_env, not both")
        if self.insecure and self.ca_file is not None:
            raise ValueError("give either ca_file (verify against that CA) or insecure = true (verify nothing)")
        if self.base_url.startswith("http://") and (self.insecure or self.ca_file is not None):
            raise ValueError(f"ca_file and insecure apply to https:// only, and base_url = {self.base_url!r}")
        return self

    def secret(self, name: str) -> str:
        """The token, from the file or the environment; ConfigError naming the back end when missing or unusable."""
        token = str(_from_env(name, "token", self.token, self.token_env, required=True))
        if not _HEADER_VALUE.fullmatch(token):
            field = "token_env" if self.token is None else "token"
            raise ConfigError(  # the token itself is a secret: never shown
                f"backends.{name}.{field}: the token is empty or holds characters an HTTP header cannot carry "
                "(spaces at its start, control or non-ASCII characters): copy it again"
            )
        return token


class MilesightConfig(_Strict):
    """`[backends.NAME] kind = "milesight"`: Milesight gateways' ns-api behind one MQTT broker."""

    kind: Literal["milesight"]
    broker_url: Annotated[str, Field(pattern=r"^mqtts?://[^/]+$")]
    # MQTT v3.1.1 section 4.7: a topic a client publishes to holds no wildcard; the answers' topic is matched
    # exactly too, so that no other traffic is taken for an answer.
    request_topic: str = "milesight/ns-api/request"
    response_topic: str = "milesight/ns-api/response"
    client_id: str = "fuota"
    username: str | None = None
    password: SecretStr | None = None
    password_env: str | None = None
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure: bool = False  # accept any broker certificate: only for a test broker, never across a network
    timeout: Annotated[float, Field(gt=0, le=300)] = 10.0
    poll_interval: Annotated[float, Field(gt=0, le=3600)] = 10.0
    give_up_after: Annotated[float, Field(gt=0, le=7 * 86400)] = 600.0
    max_concurrent: Annotated[int, Field(ge=1)] | None = None  # deployments under way at once; None: no limit
    gateways: list[str] = []

    @model_validator(mode="before")
    @classmethod
    def _no_credentials_in_url(cls, data: object) -> object:
        # Checked before the URL's other checks: their messages quote it, and so would show the password.
        url = data.get("broker_url") if isinstance(data, dict) else None
        if isinstance(url, str) and "@" in url.partition("://")[2].partition("/")[0]:
            raise ValueError("broker_url holds credentials (user:password@): give username and password instead")
        return data

    @field_validator("broker_url")
    @classmethod
    def _broker_address(cls, url: str) -> str:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - reading the port is what checks it
        except ValueError as exc:
            raise ValueError(f"not a broker address ({exc}): write mqtt://host:port, the port within 0–65535") from None
        if not parts.hostname:
            raise ValueError("no host: write mqtt://host:port or mqtts://host:port")
        return url

    @model_validator(mode="after")
    def _tls_needs_mqtts(self) -> MilesightConfig:
        given = [f for f in ("tls_ca", "tls_cert", "tls_key") if getattr(self, f) is not None]
        if given and not self.broker_url.startswith("mqtts://"):
            raise ValueError(f"{', '.join(given)} given but broker_url = {self.broker_url!r} is not TLS: use mqtts://")
        return self

    @field_validator("request_topic", "response_topic")
    @classmethod
    def _concrete(cls, topic: str) -> str:
        if not topic or any(c in topic for c in "+#\x00"):
            raise ValueError("give a concrete topic, e.g. milesight/ns-api/request: not empty, no wildcard + or #")
        return topic

    @field_validator("gateways")
    @classmethod
    def _euis(cls, gateways: list[str]) -> list[str]:
        for index, eui in enumerate(gateways):
            if not EUI_PATTERN.match(eui):
                raise ValueError(f"gateways[{index}] = {eui!r} is not a gateway EUI (16 hexadecimal digits)")
        return [normalize_eui(eui) for eui in gateways]

    def secret(self, name: str) -> str | None:
        """The broker password, if any, from the file or the environment."""
        return _from_env(name, "password", self.password, self.password_env, required=False)


class DashboardConfig(_Strict):
    """`[dashboard]`: the bearer token that `fuota daemon --http` asks before aborting a campaign from its page.
    Without one, the dashboard is read-only."""

    token: SecretStr | None = None
    token_env: str | None = None

    @model_validator(mode="after")
    def _one_token_source(self) -> DashboardConfig:
        if self.token is not None and self.token_env is not None:
            raise ValueError("give either token or token_env, not both")
        return self

    def secret(self) -> str | None:
        """The abort token from the file or the environment, or None when none is configured."""
        if self.token is not None:
            return self.token.get_secret_value() or None
        if self.token_env is None:
            return None
        if found := os.environ.get(self.token_env):
            return found
        raise ConfigError(
            f"dashboard.token_env = {self.token_env!r}: that environment variable is not set; "
            f'export {self.token_env}=… or put token = "…" under [dashboard]'
        )


BackendConfig = Annotated[IoTSquareConfig | MilesightConfig, Field(discriminator="kind")]


class Config(_Strict):
    """The whole configuration file."""

    store: StoreConfig = StoreConfig()
    backends: dict[str, BackendConfig] = {}
    dashboard: DashboardConfig = DashboardConfig()

    def backend(self, name: str) -> BackendConfig:
        """The back end called `name`; ConfigError listing the known ones otherwise."""
        try:
            return self.backends[name]
        except KeyError:
            known = ", ".join(sorted(self.backends)) or "none configured"
            raise ConfigError(f"backend = {name!r} is not in the configuration (known: {known})") from None


def describe(exc: ValidationError, source: str) -> str:
    """One line per problem: where, the offending value and what pydantic expected."""
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        value = error.get("input")
        shown = "" if isinstance(value, dict) else f" = {value!r}"
        lines.append(f"{source}: {where}{shown}: {error['msg']}")
    return "\n".join(lines)


def read_toml(path: Path, what: str) -> dict:
    """The TOML document at `path`; ConfigError naming `what` and the file when it cannot be read or is not TOML."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{what} {path} cannot be read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{what} {path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}): save it "
            "as UTF-8"
        ) from exc
    except RecursionError as exc:
        raise ConfigError(f"{what} {path} nests arrays or tables too deeply to be read: flatten it") from exc
    except ValueError as exc:  # TOMLDecodeError, and integers of more digits than Python converts (4300)
        raise ConfigError(f"{what} {path} is not valid TOML: {exc}") from exc


def _environment_overrides(data: dict) -> dict:
    # Only tables take overrides: a store or back end of another type is left as it is for validation to name.
    data = {**data}
    store, backends = data.get("store", {}), data.get("backends", {})
    if isinstance(store, dict):
        data["store"] = dict(store)
        if url := os.environ.get("FUOTA_STORE_URL"):
            data["store"]["url"] = url
    if not isinstance(backends, dict):
        return data
    data["backends"] = {name: dict(b) if isinstance(b, dict) else b for name, b in backends.items()}
    for name, backend in data["backends"].items():
        prefix = f"FUOTA_BACKEND_{name.upper().replace('-', '_')}_"
        for key, value in os.environ.items():
            if isinstance(backend, dict) and key.startswith(prefix) and value:
                backend[key[len(prefix) :].lower()] = value
    return data


def load_config(path: Path | None = None) -> Config:
    """Read the configuration from `path`, $FUOTA_CONFIG or ./fuota.toml, with environment overrides."""
    if path is None and (env := os.environ.get("FUOTA_CONFIG")):
        path = Path(env)
    if path is None and Path("fuota.toml").is_file():
        path = Path("fuota.toml")
    data = read_toml(path, "configuration file") if path is not None else {}
    if path is not None:
        _warn_if_others_can_read(path, data)
    try:
        return Config.model_validate(_environment_overrides(data))
    except ValidationError as exc:
        raise ConfigError(describe(exc, str(path or "configuration"))) from None


def _secrets_in(data: dict) -> list[str]:
    """Where the file itself holds a secret (not a *_env name of one)."""
    backends = data.get("backends")
    found = [
        f"backends.{name}.{key}"
        for name, backend in (backends.items() if isinstance(backends, dict) else ())
        if isinstance(backend, dict)
        for key in ("token", "password")
        if key in backend
    ]
    dashboard = data.get("dashboard")
    return found + (["dashboard.token"] if isinstance(dashboard, dict) and "token" in dashboard else [])


def _warn_if_others_can_read(path: Path, data: dict) -> None:
    secrets = _secrets_in(data)
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return
    if secrets and mode & 0o044:
        log.warning(
            "%s holds secrets (%s) and users other than its owner may read it (mode %04o): chmod 600 %s, or move "
            "the secrets to environment variables (token_env, password_env)",
            path,
            ", ".join(secrets),
            mode,
            path,
        )
