"""The configuration file: TOML, validated with pydantic, with clear errors naming field and value.

Configuration is read from `--config`, else `$FUOTA_CONFIG`, else `./fuota.toml`; without any, fuota runs only when
a store is named (`fuota --store URL` or `FUOTA_STORE_URL`), with no back end — never with a store it would create
silently in whatever folder it was started from. Environment variables override the file: `FUOTA_STORE_URL`, and
`FUOTA_BACKEND_<NAME>_<FIELD>` for a back end's field (e.g. FUOTA_BACKEND_IOT_BASE_URL).
Tokens come from the file (`token`) or from an environment variable it names (`token_env`) and are kept as
secrets: they never appear in output. A file that holds a secret and that users other than its owner may read
draws a warning. Servers' certificates are verified (against `ca_file`/`tls_ca`, else the system's CAs) unless a
back end says `insecure = true`, which draws a warning at every start. Each `[backends.NAME]` is validated by the
model of the kind it names (fuota.backends.registry); `[store]` and `[dashboard]` are defined here.
"""

from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path
from typing import Annotated, Union

from pydantic import Field, SecretStr, ValidationError, model_validator

from fuota.backends.config import BackendConfig, Strict
from fuota.backends.registry import KINDS
from fuota.core.numbers import number_fields
from fuota.core.settings import ConfigError

__all__ = [
    "BackendConfig",
    "Config",
    "ConfigError",
    "ConfigNotFound",
    "DashboardConfig",
    "StoreConfig",
    "describe",
    "find_config",
    "load_config",
    "read_toml",
]

DEFAULT_STORE_URL = "sqlite:///fuota.db"

log = logging.getLogger("fuota.config")


class StoreConfig(Strict):
    """`[store]`: where campaigns are kept."""

    url: str = DEFAULT_STORE_URL


class DashboardConfig(Strict):
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


# `kind` picks the model of each [backends.NAME] among those of the registered kinds.
AnyBackendConfig = Annotated[
    Union[tuple(kind.config_model for kind in KINDS.values())],  # noqa: UP007 - a union built from the registry
    Field(discriminator="kind"),
]


class Config(Strict):
    """The whole configuration file."""

    store: StoreConfig = StoreConfig()
    backends: dict[str, AnyBackendConfig] = Field(default_factory=dict)
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
                field = key[len(prefix) :].lower()
                backend[field] = _env_value(backend.get("kind"), field, value)
    return data


def _env_value(kind: object, field: str, value: str) -> object:
    """An override of a number field read as a TOML number ("5", "0.5", "1e3"), as the strict number fields
    (fuota.core.numbers) take no text; any other value, and text that is no number, is left for validation."""
    model = KINDS[kind].config_model if isinstance(kind, str) and kind in KINDS else BackendConfig
    if field not in number_fields(model):
        return value
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except (tomllib.TOMLDecodeError, ValueError):
        return value
    return parsed if isinstance(parsed, int | float) and not isinstance(parsed, bool) else value


class ConfigNotFound(ConfigError):
    """No configuration file where fuota looks, and no store named otherwise: the message lists where it looked."""


def find_config(path: Path | None = None) -> tuple[Path | None, list[str]]:
    """The configuration file to read — `path`, else $FUOTA_CONFIG, else ./fuota.toml when it exists — and, for
    an error message, where fuota looked."""
    if path is not None:
        return path, [f"--config {path}"]
    if env := os.environ.get("FUOTA_CONFIG"):
        return Path(env), [f"$FUOTA_CONFIG = {env}"]
    here = Path("fuota.toml")
    tried = ["--config (not given)", "$FUOTA_CONFIG (not set)", f"./fuota.toml ({here.resolve()}: no such file)"]
    return (here, tried) if here.is_file() else (None, tried)


def load_config(path: Path | None = None, *, store_url: str | None = None) -> Config:
    """Read the configuration from `path`, $FUOTA_CONFIG or ./fuota.toml, with environment overrides; `store_url`
    (`fuota --store`) overrides every other store setting. Without a file, fuota only runs when a store is named
    (`store_url` or $FUOTA_STORE_URL), with no back end: ConfigNotFound otherwise, naming the paths tried — a
    command run in the wrong folder must not create a store there."""
    path, tried = find_config(path)
    if path is None and not store_url and not os.environ.get("FUOTA_STORE_URL"):
        raise ConfigNotFound(
            f"no configuration file found; tried {', '.join(tried)}. Run fuota in the folder of your fuota.toml, "
            "pass --config FILE (or set FUOTA_CONFIG), or name a store with --store URL (or FUOTA_STORE_URL)"
        )
    data = read_toml(path, "configuration file") if path is not None else {}
    if path is not None:
        _warn_if_others_can_read(path, data)
    data = _environment_overrides(data)
    if store_url and isinstance(data.get("store", {}), dict):
        data["store"] = {**data.get("store", {}), "url": store_url}
    try:
        return Config.model_validate(data)
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
