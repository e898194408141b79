"""The back-end kinds as plug-ins: what each declares, and how IoTSquare cuts a campaign into deployments (the one
place devices are cut into groups). Milesight's plan asks its gateways, so it is tested over a real broker."""

from __future__ import annotations

import pytest

import codec
from fuota.backends.base import BackendKind, PlanRequest
from fuota.backends.iotsquare.codes import MAX_EXT_GROUP_SIZE
from fuota.backends.iotsquare.kind import IoTSquareConfig, IoTSquareKind, IoTSquareTarget
from fuota.backends.milesight.kind import MilesightKind, MilesightTarget
from fuota.backends.registry import KINDS, kind_of
from fuota.core.settings import ConfigError

KEY = "504e83e6dd1a457af1bf93f99d362e89"
CONFIG = IoTSquareConfig(kind="iotsquare", base_url="http://127.0.0.1:9", token="t0k3n")


def euis(count: int) -> tuple[str, ...]:
    return tuple(f"{0x8CF9573000000000 + i:016x}" for i in range(count))


def request(devices: int, table: IoTSquareTarget | None, percent: float = 30) -> PlanRequest:
    return PlanRequest("sensors-v2.3", euis(devices), 13737, percent, table)


def test_the_registry_holds_each_kind_under_its_own_name() -> None:
    assert set(KINDS) == {"iotsquare", "milesight"}
    for name, kind in KINDS.items():
        assert isinstance(kind, BackendKind) and kind.name == name and kind_of(name) is kind
        assert kind.config_model.model_fields["kind"].annotation is not str  # a Literal of its own name
    with pytest.raises(ConfigError, match=r"'lns'.*iotsquare, milesight"):
        kind_of("lns")


def test_temporary_groups_of_at_most_253_devices_make_one_deployment_each() -> None:
    planned = IoTSquareKind().plan("iot", CONFIG, request(300, IoTSquareTarget(gen_app_key=KEY)))
    assert [len(d.devices) for d in planned.deployments] == [MAX_EXT_GROUP_SIZE, 300 - MAX_EXT_GROUP_SIZE]
    assert [d.task_name for d in planned.deployments] == ["sensors-v2.3-1", "sensors-v2.3-2"]
    assert all(d.temporary and d.target is None and d.backend == "iot" for d in planned.deployments)
    assert sorted(device for d in planned.deployments for device in d.devices) == list(euis(300))
    # Section 9.3's sample: 13737 bytes in 48-byte fragments, 30 % rounded down as IoTSquare does.
    assert planned.deployments[0].frag == codec.plan(13737, 48, percent=30, rounding=codec.Rounding.IOTSQUARE)
    assert planned.deployments[0].frag.redundancy == 86
    assert planned.join_timeout == 600 and planned.target["gen_app_key"] == KEY


def test_without_the_extended_function_one_group_holds_them_all() -> None:
    planned = IoTSquareKind().plan("iot", CONFIG, request(300, IoTSquareTarget(gen_app_key=KEY, enable_mc_ext=False)))
    assert [len(d.devices) for d in planned.deployments] == [300]


def test_an_existing_group_is_one_deployment_that_brings_its_devices() -> None:
    table = IoTSquareTarget(mc_eui="CC3E92CEA33AC62A")
    planned = IoTSquareKind().plan("iot", CONFIG, request(0, table))
    (only,) = planned.deployments
    assert (only.target, only.temporary) == ("cc3e92cea33ac62a", False)
    assert IoTSquareKind().brings_devices(table) and not IoTSquareKind().brings_devices(
        IoTSquareTarget(gen_app_key=KEY)
    )


def test_manual_keys_cannot_serve_several_groups() -> None:
    manual = IoTSquareTarget(enable_mc_remote=False, mc_addr="45c325ce", mc_app_s_key="00" * 16, mc_nwk_s_key="11" * 16)
    with pytest.raises(ConfigError, match=r"300 devices need 2 multicast groups.*enable_mc_remote"):
        IoTSquareKind().plan("iot", CONFIG, request(300, manual))
    assert len(IoTSquareKind().plan("iot", CONFIG, request(253, manual)).deployments) == 1


@pytest.mark.parametrize("percent", [5, 101])
def test_iotsquare_takes_10_to_100_percent(percent: float) -> None:
    with pytest.raises(ConfigError, match=f"redundancy_percent = {percent} is out of range.*10–100"):
        IoTSquareKind().plan("iot", CONFIG, request(3, IoTSquareTarget(gen_app_key=KEY), percent))


def test_iotsquare_needs_its_table_and_its_token() -> None:
    with pytest.raises(ConfigError, match=r"\[iotsquare\] table"):
        IoTSquareKind().plan("iot", CONFIG, request(3, None))
    tokenless = IoTSquareConfig(kind="iotsquare", base_url="http://127.0.0.1:9")
    with pytest.raises(ConfigError, match=r"backends\.iot: no token"):
        IoTSquareKind().plan("iot", tokenless, request(3, IoTSquareTarget(gen_app_key=KEY)))


def test_pacing_comes_from_each_kind_s_own_table() -> None:
    iot = IoTSquareKind().pacing(IoTSquareTarget(gen_app_key=KEY, region="eu868").model_dump(mode="json"))
    assert (iot.region, iot.dr, iot.interval_ms) == ("EU868", None, None)  # RX2, as fast as the duty cycle allows
    ms = MilesightKind().pacing(MilesightTarget(region="EU868", dr=3, fragment_interval=2000).model_dump(mode="json"))
    assert (ms.region, ms.dr, ms.interval_ms) == ("EU868", 3, 2000.0)


def test_milesight_defaults_are_defined_once_within_its_limits() -> None:
    from fuota.backends.milesight import codes

    table = MilesightTarget()
    assert (table.fragment_size, table.fragment_interval, table.region) == (
        codes.DEFAULT_FRAGMENT_SIZE,
        codes.DEFAULT_FRAGMENT_INTERVAL,
        None,  # each gateway's own channel plan; DEFAULT_REGION only where a gateway reports none
    )
    assert MilesightKind().pacing(table.model_dump(mode="json")).region == codes.DEFAULT_REGION
    assert MilesightKind.redundancy_percent == codes.TASK_LIMITS["fragmentRedundancy"]
