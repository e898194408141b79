"""IoTSquare as a fuota back end kind: its `[backends.NAME]` model, its `[iotsquare]` campaign table, and how a
campaign's devices become deployments (one per multicast group).

    [backends.NAME] kind = "iotsquare"   IoTSquareConfig: base_url, token (or token_env), token_header, ca_file
    [iotsquare] in a campaign file       IoTSquareTarget: an existing group (mc_eui), or the temporary groups'
                                         parameters (section 6.2.2), frag_size, join_timeout

Temporary groups hold at most MAX_EXT_GROUP_SIZE devices with the extended function (section 6.1.4), so more
devices make more deployments, each with its own group; manual multicast keys (enable_mc_remote = false) can serve
one group only (IoTSquare refuses a second group with the same keys, 14003).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

import codec
from fuota.backends.base import Backend, BackendKind, DeploymentPlan, KindPlan, Pacing, PlanRequest
from fuota.backends.config import HEADER_NAME, HEADER_VALUE, BackendConfig, from_env
from fuota.backends.errors import AuthError, BackendError, NotFoundError
from fuota.backends.iotsquare.codes import MAX_EXT_GROUP_SIZE, REDUNDANCY_FRACTION
from fuota.core.model import EUI_PATTERN, normalize_eui
from fuota.core.settings import A_WEEK, DEFAULT_JOIN_TIMEOUT, ConfigError

__all__ = ["IoTSquareConfig", "IoTSquareKind", "IoTSquareTarget"]

DEFAULT_FRAG_SIZE = 48  # what IoTSquare's own sample uses (section 9.3: 13737 bytes → 287 fragments of 48)


class IoTSquareConfig(BackendConfig):
    """`[backends.NAME] kind = "iotsquare"`: an IoTSquare server's OpenAPI."""

    kind: Literal["iotsquare"]
    base_url: Annotated[str, Field(pattern=r"^https?://")]
    token: SecretStr | None = None
    token_env: str | None = None
    token_header: Annotated[str, Field(pattern=HEADER_NAME)] = "Authorization"
    ca_file: Path | None = None  # the CA that signed the server's certificate, when not a system CA

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
        token = str(from_env(name, "token", self.token, self.token_env, required=True))
        if not HEADER_VALUE.fullmatch(token):
            field = "token_env" if self.token is None else "token"
            raise ConfigError(  # the token itself is a secret: never shown
                f"backends.{name}.{field}: the token is empty or holds characters an HTTP header cannot carry "
                "(spaces at its start, control or non-ASCII characters): copy it again"
            )
        return token


class IoTSquareTarget(BaseModel):
    """`[iotsquare]`: an existing multicast group, or the parameters of the temporary groups fuota creates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mc_eui: Annotated[str, Field(pattern=EUI_PATTERN.pattern)] | None = None
    region: str = "eu868"
    subnet: str = "ch_00-07"
    enable_mc_remote: bool = True
    group_id: Annotated[int, Field(ge=0, le=3)] = 0
    gen_app_key: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{32}$")] | None = None
    enable_mc_ext: bool = True
    time_slot_length: Annotated[int, Field(ge=0, le=15)] = 3
    mc_addr: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{8}$")] | None = None
    mc_app_s_key: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{32}$")] | None = None
    mc_nwk_s_key: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{32}$")] | None = None
    frag_size: Annotated[int, Field(ge=1, le=255)] = DEFAULT_FRAG_SIZE
    join_timeout: Annotated[float, Field(gt=0, le=A_WEEK)] = DEFAULT_JOIN_TIMEOUT

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
        return IoTSquareBackend(
            name=name,
            base_url=config.base_url,
            token=config.secret(name),
            token_header=config.token_header,
            timeout=config.timeout,
            retry_timeout=min(60.0, config.give_up_after),
            verify=_verify(name, config),
        )

    def plan(self, name: str, config: BackendConfig, request: PlanRequest) -> KindPlan:
        """One deployment per multicast group: the existing `mc_eui`, or temporary groups of at most 253 devices
        (the extended function; one group without it). Asks nothing of the server."""
        assert isinstance(config, IoTSquareConfig)
        config.secret(name)  # no token: refused before anything is stored
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
        backend = IoTSquareBackend(
            name=name,
            base_url=config.base_url,
            token=config.secret(name),
            token_header=config.token_header,
            timeout=config.timeout,
            retry_timeout=min(config.timeout, config.give_up_after),  # a dry run reports, it does not wait long
            verify=_verify(name, config),
        )
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
            field = "token_env" if config.token is None else "token"
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
