"""Milesight gateways as a fuota back end kind: its `[backends.NAME]` model, its `[milesight]` campaign table, and
how a campaign's devices become deployments (one per gateway, each device through the gateway that knows it).

    [backends.NAME] kind = "milesight"   MilesightConfig: the MQTT broker, its topics and credentials, the gateways
    [milesight] in a campaign file       MilesightTarget: the gateways, fragment size and interval, radio settings,
                                         the firmware version devices report once updated

A gateway's embedded network server only knows its own devices, so planning asks every gateway for its device list
(`GET /api/urdevices`, nothing is sent) and its channel plan (`channelPlan`, same answer), and checks each gateway's
task settings against its plan (radio.py: region, dr and frequency default to its plan's RX2 row, a region or
frequency that does not fit it is refused), section 6.1's limits and the data rate's payload size on that gateway
(`/api/fuota/task/payloadsize`). What each gateway gets is kept in the completed table's `gateway_radio`, and the
forecast paces each deployment with its own gateway's region and data rate (`pacing`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

import codec
from fuota.backends.base import Backend, BackendKind, DeploymentPlan, KindPlan, Pacing, PlanRequest
from fuota.backends.config import BackendConfig, address, from_env, holds_credentials
from fuota.backends.errors import BackendError
from fuota.backends.milesight.codes import (
    DEFAULT_FRAGMENT_INTERVAL,
    DEFAULT_FRAGMENT_SIZE,
    DEFAULT_REGION,
    TASK_LIMITS,
)
from fuota.backends.milesight.radio import Radio, resolve
from fuota.backends.retry import retry_budget
from fuota.backends.untrusted import InertBackend
from fuota.core.model import EUI_PATTERN, normalize_eui
from fuota.core.numbers import number
from fuota.core.settings import ConfigError

__all__ = ["GatewayRadio", "MilesightConfig", "MilesightKind", "MilesightTarget"]


class MilesightConfig(BackendConfig):
    """`[backends.NAME] kind = "milesight"`: Milesight gateways' ns-api behind one MQTT broker."""

    kind: Literal["milesight"]
    broker_url: Annotated[str, Field(pattern=r"^mqtts?://[^/]+$")]
    # MQTT v3.1.1 section 4.7: a topic a client publishes to holds no wildcard; the answers' topic is matched
    # exactly too, so that no other traffic is taken for an answer.
    request_topic: str = "milesight/ns-api/request"
    response_topic: str = "milesight/ns-api/response"
    client_id: str = "fuota"  # a prefix: each process adds its host, pid and a random suffix (mqtt.mqtt_client_id)
    username: str | None = None
    password: SecretStr | None = None
    password_env: str | None = None
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    gateways: list[str] = Field(default_factory=list)
    # Refuse (exit 2) a campaign whose fragment_interval is shorter than the region's duty cycle allows at its data
    # rate, instead of warning: for networks where a gateway must never be asked to breach it.
    strict_duty_cycle: bool = False
    # Keep each deployment's finished task on its gateway instead of deleting it once its results are stored
    # (section 6.4). Gateways cap their task count (10310013): kept tasks must then be removed by hand, e.g. with
    # `fuota gateway tasks NAME GATEWAY --delete-finished`.
    keep_tasks: bool = False

    @model_validator(mode="before")
    @classmethod
    def _no_credentials_in_url(cls, data: object) -> object:
        if holds_credentials(data, "broker_url"):
            raise ValueError("broker_url holds credentials (user:password@): give username and password instead")
        return data

    @field_validator("broker_url")
    @classmethod
    def _broker_address(cls, url: str) -> str:
        return address(url, "broker address", "mqtt://host:port or mqtts://host:port", "mqtt://127.0.0.1:1883")

    @model_validator(mode="after")
    def _tls_needs_mqtts(self) -> MilesightConfig:
        given = [f for f in ("tls_ca", "tls_cert", "tls_key") if getattr(self, f) is not None]
        given += ["insecure = true"] if self.insecure else []
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
        return from_env(name, "password", self.password, self.password_env, required=False)


def _limited(name: str) -> Any:
    low, high = TASK_LIMITS[name]
    return number(ge=low, le=high)


class GatewayRadio(BaseModel):
    """One gateway's task radio settings as planning resolved them (radio.Radio): the `channelPlan` it answered
    (verbatim, None: none), the region used, the data rate and the frequency in Hz."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel_plan: str | None = None
    region: str
    dr: int
    frequency: int


class MilesightTarget(BaseModel):
    """`[milesight]`: the gateways to use and the task's fragmentation settings (spec section 6.1).

    `region`, `dr` and `frequency` pin the task's radio settings for every gateway; each left out is taken from the
    gateway's own channel plan (its RX2 row). `gateway_radio` is filled in by planning (what each gateway is sent),
    recomputed at every plan: a campaign file need not write it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gateways: list[str] | None = None  # default: the back end's configured gateways, asked who knows each device
    fragment_size: Annotated[int, _limited("fragmentSize")] = DEFAULT_FRAGMENT_SIZE
    fragment_interval: Annotated[int, _limited("fragmentInterval")] = DEFAULT_FRAGMENT_INTERVAL  # milliseconds
    region: str | None = None  # default: each gateway's channelPlan (DEFAULT_REGION where it reports none)
    dr: Annotated[int, number(ge=0, le=15)] | None = None  # default: the region's RX2 data rate
    frequency: Annotated[int, number(gt=0)] | None = None  # Hz; default: the region's RX2 frequency
    # Met when a device's firmwareVersion (6.7) becomes equal to it. Where that field is "" for every device or
    # never changes, it cannot tell: no device is failed for it, one anomaly per deployment says so (core/outcomes).
    expected_version: str | None = None
    # Set by `fuota retry`, not written by hand: per gateway EUI, the failed task ({"taskId", "name"}) of the
    # retried campaign that holds exactly the retry's devices there, re-run (section 6.5) instead of a new task.
    reuse_tasks: dict[str, dict[str, int | str]] | None = None
    gateway_radio: dict[str, GatewayRadio] = Field(default_factory=dict)

    @field_validator("gateways")
    @classmethod
    def _gateway_euis(cls, gateways: list[str] | None) -> list[str] | None:
        if gateways is None:
            return None
        for index, eui in enumerate(gateways):
            if not isinstance(eui, str) or not EUI_PATTERN.match(eui.strip()):
                raise ValueError(f"gateways[{index}] = {eui!r} is not an EUI-64 (16 hexadecimal digits)")
        return [normalize_eui(eui) for eui in gateways]


class MilesightKind(BackendKind):
    """Milesight: one deployment per gateway, each device sent through the gateway whose network server knows it."""

    name = "milesight"
    config_model = MilesightConfig
    target_model = MilesightTarget
    rounding = codec.Rounding.CHIRPSTACK
    redundancy_percent = TASK_LIMITS["fragmentRedundancy"]
    reports_finishing = False  # status 2 "executing" lasts from the first fragment to the task's end (6.2)

    def build(self, name: str, config: BackendConfig) -> Backend:
        """A MilesightBackend on the configured broker."""
        from fuota.backends.milesight.adapter import MilesightBackend

        assert isinstance(config, MilesightConfig)
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
            retry_timeout=retry_budget(config.give_up_after),
            keep_tasks=config.keep_tasks,
        )

    def plan(self, name: str, config: BackendConfig, request: PlanRequest) -> KindPlan:
        """One deployment per gateway that knows some of the devices; asks the gateways over the broker which
        devices each knows and its channel plan, and checks each such gateway's task settings (nothing is sent)."""
        from fuota.backends.milesight.adapter import MilesightBackend

        assert isinstance(config, MilesightConfig)
        table = request.table if isinstance(request.table, MilesightTarget) else MilesightTarget()
        gateways = table.gateways or config.gateways
        if not gateways:
            raise ConfigError(
                f"no gateway to send through: list them in [milesight] gateways or backends.{name}.gateways"
            )
        self.check_redundancy(name, request.redundancy_percent)
        frag = self.frag_plan(request, table.fragment_size)
        adapter = self.connect(name, config)
        assert isinstance(adapter, MilesightBackend)
        # The gateways' words are quoted in the errors below and their channel plans stored: inert, as at run time.
        backend: Any = InertBackend(adapter, lambda: (config.secret(name),))
        options = table.model_dump(mode="json", exclude={"gateway_radio"})
        try:
            resolve(gateways[0], None, table.region, table.dr, None)  # the region's spelling, before asking
            located = backend.locate(gateways, list(request.devices))
            unknown = [eui for eui, gateway in located.items() if gateway is None]
            if unknown:
                shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
                raise ConfigError(
                    f"devices: {shown} known to none of the gateways {', '.join(gateways)}; remove them or "
                    "add them to a gateway's network server"
                )
            per_gateway = {g: tuple(d for d in request.devices if located[d] == g) for g in gateways}
            used = [gateway for gateway, devices in per_gateway.items() if devices]
            radios = {gateway: backend.radio(gateway, options).as_dict() for gateway in used}
        except BackendError as exc:
            raise ConfigError(f"gateways = {gateways} (backend {name!r}): {exc}") from exc
        finally:
            backend.close()
        deployments = [
            DeploymentPlan(f"{request.name}-{gateway}", name, gateway, False, per_gateway[gateway], frag)
            for gateway in used
        ]
        target = {**options, "gateway_radio": radios}
        return KindPlan(target, deployments, expected_version=table.expected_version)

    def check(self, name: str, config: BackendConfig, planned: KindPlan) -> list[str]:
        """What planning already asked the gateways (it needs their device lists and channel plans): nothing more
        to send. One line per gateway says its channel plan and what its task is sent with, or that it reports no
        plan fuota knows and which region is assumed."""
        assert isinstance(config, MilesightConfig)
        gateways = sorted({d.target for d in planned.deployments if d.target})
        devices = sum(len(d.devices) for d in planned.deployments)
        table = MilesightTarget.model_validate(planned.target)
        radios = [Radio(g, r.channel_plan, r.region, r.dr, r.frequency).note() for g, r in table.gateway_radio.items()]
        return [
            f"backends.{name} (broker_url = {config.broker_url!r}): gateways {', '.join(gateways)} answered, "
            f"task settings accepted (payload size checked), {devices} devices each known to a gateway",
            *radios,
        ]

    def pacing(self, target: dict[str, Any]) -> Pacing:
        """The task's own data rate and fragmentInterval (section 6.1): what the gateway is told to send at, per
        gateway its own region and data rate (`by_target`); the campaign's are the first gateway's (its region and
        dr where set, else DEFAULT_REGION's RX2 data rate)."""
        table = MilesightTarget.model_validate(target)
        interval, longest = float(table.fragment_interval), float(TASK_LIMITS["fragmentInterval"][1])
        each = {
            gateway: Pacing(radio.region, radio.dr, interval, max_interval_ms=longest)
            for gateway, radio in table.gateway_radio.items()
        }
        first = next(iter(each.values()), None)
        region = first.region if first else table.region or DEFAULT_REGION
        dr = first.dr if first else table.dr
        return Pacing(region, dr, interval, max_interval_ms=longest, by_target=each)
