"""IoTSquare as a fuota back end kind: its `[backends.NAME]` model, its `[iotsquare]` campaign table, and how a
campaign's devices become deployments (one per multicast group).

    [backends.NAME] kind = "iotsquare"   IoTSquareConfig: base_url, token (or token_env, token_file), token_header,
                                         ca_file
    [iotsquare] in a campaign file       IoTSquareTarget: an existing group (mc_eui), or the temporary groups'
                                         parameters (section 6.2.2), frag_size, join_timeout

Temporary groups hold at most MAX_EXT_GROUP_SIZE devices with the extended function (section 6.1.4), so more
devices make more deployments, each with its own group; manual multicast keys (enable_mc_remote = false) can serve
one group only (IoTSquare refuses a second group with the same keys, 14003).
"""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

import codec
from fuota.backends.base import Backend, BackendKind, DeploymentPlan, KindPlan, Pacing, PlanRequest
from fuota.backends.config import HEADER_NAME, HEADER_VALUE, BackendConfig, address, from_env, holds_credentials
from fuota.backends.errors import AuthError, BackendError, NotFoundError
from fuota.backends.iotsquare.codes import MAX_EXT_GROUP_SIZE, REDUNDANCY_FRACTION
from fuota.backends.iotsquare.credentials import TokenSource
from fuota.backends.retry import retry_budget
from fuota.backends.untrusted import InertBackend
from fuota.core.model import EUI_PATTERN, normalize_eui
from fuota.core.numbers import number, seconds
from fuota.core.settings import A_WEEK, DEFAULT_JOIN_TIMEOUT, ConfigError

__all__ = ["IoTSquareConfig", "IoTSquareKind", "IoTSquareTarget"]

_TOKEN_FIELDS = ("token", "token_env", "token_file")
_PUSH_URL = re.compile(r"https?://\S+")
AUTO_SUBNET = "auto"  # section 6.2.2 (3.3.65): the subnet of a group whose autoSubnet is true
MAX_PUSH_HEADERS = 5  # section 2.1: "up to 5 HTTP request headers" (5.2.2 says "<5" of a gateway's)
DEFAULT_FRAG_SIZE = 48  # what IoTSquare's own sample uses (section 9.3: 13737 bytes → 287 fragments of 48)


class IoTSquareConfig(BackendConfig):
    """`[backends.NAME] kind = "iotsquare"`: an IoTSquare server's OpenAPI.

    The token comes from exactly one of `token` (in the file), `token_env` (a variable) or `token_file` (a file holding
    the token alone; surrounding white space is dropped). The variable and the file are read again at every request,
    so a token rotated there is used without a restart (fuota.backends.iotsquare.credentials).
    """

    kind: Literal["iotsquare"]
    base_url: Annotated[str, Field(pattern=r"^https?://")]
    token: SecretStr | None = None
    token_env: str | None = None
    token_file: Path | None = None
    token_header: Annotated[str, Field(pattern=HEADER_NAME)] = "Authorization"
    ca_file: Path | None = None  # the CA that signed the server's certificate, when not a system CA

    @model_validator(mode="before")
    @classmethod
    def _no_credentials_in_url(cls, data: object) -> object:
        if holds_credentials(data, "base_url"):
            raise ValueError(
                "base_url holds credentials (user:password@): IoTSquare takes a token; remove them from the URL and "
                'give token = "…", token_env or token_file'
            )
        return data

    @field_validator("base_url")
    @classmethod
    def _server_address(cls, url: str) -> str:
        return address(url, "server address", "http(s)://host[:port][/path]", "https://iot.example.com")

    @model_validator(mode="after")
    def _one_token_source(self) -> IoTSquareConfig:
        given = [field for field in _TOKEN_FIELDS if getattr(self, field) is not None]
        if len(given) > 1:
            raise ValueError(f"give one of token, token_env or token_file, not {' and '.join(given)}")
        if self.insecure and self.ca_file is not None:
            raise ValueError("give either ca_file (verify against that CA) or insecure = true (verify nothing)")
        if self.base_url.startswith("http://") and (self.insecure or self.ca_file is not None):
            raise ValueError(f"ca_file and insecure apply to https:// only, and base_url = {self.base_url!r}")
        return self

    def token_source(self, name: str) -> TokenSource:
        """Where each request reads the token; ConfigError naming the back end when none is configured."""
        if self.token is not None:
            return TokenSource.literal(self.token.get_secret_value())
        if self.token_env is not None:
            return TokenSource.env(self.token_env)
        if self.token_file is not None:
            return TokenSource.file(self.token_file)
        raise ConfigError(f'backends.{name}: no token; set token = "…", token_env = "VARIABLE" or token_file = "PATH"')

    def secret(self, name: str) -> str:
        """The token as it is now, from the configuration, the environment or the file; ConfigError naming the back
        end and the field when missing or unusable."""
        if self.token_env is not None:
            from_env(name, "token", None, self.token_env, required=True)  # its own message: export it
        try:
            return self.token_source(name)()
        except AuthError as exc:
            raise ConfigError(f"backends.{name}.{exc}") from None


class IoTSquareTarget(BaseModel):
    """`[iotsquare]`: an existing multicast group, or the parameters of the temporary groups fuota creates.

    The temporary groups' push settings (section 6.2.2), sent only when given: `push_url` (http:// or https://; a
    string is sent as a string, as the spec's sample does, a list as the array its 3.3.65 table says), `enable_mqtt`,
    `headers` (at most 5 name = value pairs pushed with every result, as section 2.1 allows) and `auto_subnet`
    (IoTSquare picks the subnet: `subnet` is then "auto", and may be left out).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mc_eui: Annotated[str, Field(pattern=EUI_PATTERN.pattern)] | None = None
    region: str = "eu868"
    subnet: str = "ch_00-07"
    auto_subnet: bool | None = None
    push_url: str | list[str] | None = None
    enable_mqtt: bool | None = None
    headers: dict[str, str] | None = None
    enable_mc_remote: bool = True
    group_id: Annotated[int, number(ge=0, le=3)] = 0
    gen_app_key: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{32}$")] | None = None
    enable_mc_ext: bool = True
    time_slot_length: Annotated[int, number(ge=0, le=15)] = 3
    mc_addr: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{8}$")] | None = None
    mc_app_s_key: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{32}$")] | None = None
    mc_nwk_s_key: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{32}$")] | None = None
    frag_size: Annotated[int, number(ge=1, le=255)] = DEFAULT_FRAG_SIZE
    join_timeout: Annotated[float, seconds(A_WEEK)] = DEFAULT_JOIN_TIMEOUT

    @field_validator("push_url")
    @classmethod
    def _push_url(cls, value: str | list[str] | None) -> str | list[str] | None:
        urls = [value] if isinstance(value, str) else value
        if urls is not None and not urls:
            raise ValueError('push_url = []: give at least one URL, e.g. "https://iot.example.com/api/iotsquare"')
        for url in urls or ():
            if not _PUSH_URL.fullmatch(url):
                raise ValueError(f"push_url {url!r} is not an http:// or https:// URL (section 6.2.2): fix it")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return value
        if len(value) > MAX_PUSH_HEADERS:
            raise ValueError(
                f"{len(value)} headers: IoTSquare pushes at most {MAX_PUSH_HEADERS} (section 2.1): drop some"
            )
        for name, text in value.items():
            if not re.fullmatch(HEADER_NAME, name):
                raise ValueError(f"header name {name!r} is not an HTTP header name (letters, digits, - and _): fix it")
            if not HEADER_VALUE.fullmatch(text):
                raise ValueError(
                    f"the value of header {name!r} is empty or holds characters an HTTP header cannot carry "
                    "(control or non-ASCII characters, spaces at its start): fix it"
                )
        return value

    @model_validator(mode="before")
    @classmethod
    def _auto_subnet(cls, data: Any) -> Any:
        """With auto_subnet = true the spec's subnet is "auto": filled in when left out, refused when it contradicts."""
        if isinstance(data, dict) and data.get("auto_subnet") is True:
            subnet = data.get("subnet", AUTO_SUBNET)
            if subnet != AUTO_SUBNET:
                raise ValueError(
                    f"auto_subnet = true lets IoTSquare choose the subnet, but subnet = {subnet!r}: leave subnet out "
                    f'(or set it to "{AUTO_SUBNET}"), or set auto_subnet = false'
                )
            return {**data, "subnet": AUTO_SUBNET}
        return data

    @model_validator(mode="after")
    def _group_parameters(self) -> IoTSquareTarget:
        if self.mc_eui is None:
            if self.enable_mc_remote and self.gen_app_key is None:
                raise ValueError("temporary groups with enable_mc_remote need gen_app_key (32 hex digits)")
            if not self.enable_mc_remote and None in (self.mc_addr, self.mc_app_s_key, self.mc_nwk_s_key):
                raise ValueError("manually configured groups need mc_addr, mc_app_s_key and mc_nwk_s_key")
        return self

    @property
    def group_size(self) -> int | None:
        """The most devices one temporary group may hold; None: no limit of IoTSquare's."""
        return MAX_EXT_GROUP_SIZE if self.enable_mc_ext else None


class IoTSquareKind(BackendKind):
    """IoTSquare: one deployment per multicast group, the existing one or temporary ones fuota creates."""

    name = "iotsquare"
    config_model = IoTSquareConfig
    target_model = IoTSquareTarget
    rounding = codec.Rounding.IOTSQUARE  # section 9.3's sample: 0.3 × 287 = 86.1 → 86
    redundancy_percent = (100 * REDUNDANCY_FRACTION[0], 100 * REDUNDANCY_FRACTION[1])

    def build(self, name: str, config: BackendConfig) -> Backend:
        """An IoTSquareBackend over httpx, verifying the server as the configuration says."""
        from fuota.backends.iotsquare.adapter import IoTSquareBackend

        assert isinstance(config, IoTSquareConfig)
        config.secret(name)  # unusable now: refused at start, naming the field; later, read again at every call
        return IoTSquareBackend(
            name=name,
            base_url=config.base_url,
            token=config.token_source(name),
            token_header=config.token_header,
            timeout=config.timeout,
            retry_timeout=retry_budget(config.give_up_after),
            verify=_verify(name, config),
        )

    def plan(self, name: str, config: BackendConfig, request: PlanRequest) -> KindPlan:
        """One deployment per multicast group: the existing `mc_eui`, or temporary groups of at most 253 devices
        (the extended function; one group without it). Asks nothing of the server."""
        assert isinstance(config, IoTSquareConfig)
        config.secret(name)  # no token: refused before anything is stored
        _verify(name, config)  # nor a ca_file that cannot be read
        target = request.table
        if not isinstance(target, IoTSquareTarget):
            raise ConfigError(
                f'backend {name!r} is IoTSquare: the campaign needs an [iotsquare] table (mc_eui = "…" '
                "or the temporary groups' parameters)"
            )
        self.check_redundancy(name, request.redundancy_percent)
        frag = self.frag_plan(request, target.frag_size)
        devices = request.devices
        if target.mc_eui is not None:
            groups: list[tuple[str | None, tuple[str, ...]]] = [(normalize_eui(target.mc_eui), devices)]
        else:
            size = target.group_size or max(1, len(devices))
            groups = [(None, devices[i : i + size]) for i in range(0, len(devices), size)]
            if len(groups) > 1 and not target.enable_mc_remote:
                raise ConfigError(
                    f"{len(devices)} devices need {len(groups)} multicast groups of at most {size}, but manual "
                    "multicast keys (mc_addr, mc_app_s_key, mc_nwk_s_key) serve one group only (IoTSquare refuses "
                    "duplicates, 14003): set enable_mc_remote = true, or enable_mc_ext = false for one group"
                )
        deployments = [
            DeploymentPlan(f"{request.name}-{index + 1}", name, group, group is None, members, frag)
            for index, (group, members) in enumerate(groups)
        ]
        return KindPlan(target.model_dump(mode="json"), deployments, join_timeout=target.join_timeout)

    def check(self, name: str, config: BackendConfig, planned: KindPlan) -> list[str]:
        """The token and reachability (one authenticated read), an existing group and its members (mcdevice/list),
        and that every device of the campaign is registered (device/status, 4001 when not). Sends nothing."""
        from fuota.backends.iotsquare.adapter import IoTSquareBackend

        assert isinstance(config, IoTSquareConfig)
        token = config.secret(name)
        adapter = IoTSquareBackend(
            name=name,
            base_url=config.base_url,
            token=token,
            token_header=config.token_header,
            timeout=config.timeout,
            retry_timeout=min(config.timeout, config.give_up_after),  # a dry run reports, it does not wait long
            verify=_verify(name, config),
        )
        backend: Any = InertBackend(adapter, lambda: (token,))  # the server's words below are quoted in errors
        where = f"backends.{name} (base_url = {config.base_url!r})"
        try:
            backend.reachable()
            lines = [f"{where}: reachable, token accepted"]
            for deployment in planned.deployments:
                if deployment.target is not None:
                    lines.append(_check_group(backend, name, deployment))
            devices = tuple(d for deployment in planned.deployments if deployment.temporary for d in deployment.devices)
            if devices:
                missing = [eui for eui, known in backend.registered(devices).items() if not known]
                if missing:
                    shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
                    raise ConfigError(
                        f"devices: {shown} not registered on IoTSquare {where} (device/status answers 4001 Device Not "
                        "Exist): add them to an application there, or remove them from the campaign"
                    )
                lines.append(f"{len(devices)} devices registered on {name}")
        except AuthError as exc:
            field = next(field for field in _TOKEN_FIELDS if getattr(config, field) is not None)
            raise ConfigError(f"backends.{name}.{field}: the server refused it ({exc}); copy the token again") from exc
        except BackendError as exc:
            raise ConfigError(f"{where}: {exc}; check base_url and that the server is up (nothing was sent)") from exc
        finally:
            backend.close()
        return lines

    def pacing(self, target: dict[str, Any]) -> Pacing:
        """Class C multicast at the region's RX2 data rate, as fast as its duty cycle allows: IoTSquare paces the
        fragments itself and says neither its data rate nor its interval."""
        return Pacing(IoTSquareTarget.model_validate(target).region.upper())

    def brings_devices(self, table: BaseModel | None) -> bool:
        """An existing group (`mc_eui`) brings its members."""
        return isinstance(table, IoTSquareTarget) and table.mc_eui is not None


def _check_group(backend: Any, name: str, deployment: DeploymentPlan) -> str:
    """That the existing group of `deployment` exists and holds the campaign's devices; a line saying who is in it."""
    try:
        members = backend.ready(deployment.target)
    except NotFoundError as exc:
        raise ConfigError(
            f"[iotsquare] mc_eui = {deployment.target!r}: no such multicast group on backend {name!r} ({exc}); "
            "check the mcEUI, or leave mc_eui out for temporary groups"
        ) from exc
    outside = sorted(set(deployment.devices) - set(members))
    if outside:
        shown = ", ".join(outside[:5]) + (f" and {len(outside) - 5} more" if len(outside) > 5 else "")
        raise ConfigError(
            f"devices: {shown} not members of multicast group {deployment.target}: add them to it "
            "(mcdevice/create) or remove them from the campaign"
        )
    joined = sum(members.values())
    return f"multicast group {deployment.target}: {len(members)} members, {joined} joined"


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
