"""`fuota sim iotsquare|milesight`: the back ends' simulators on loopback, for rehearsals and demos."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fuota.cli.common import fail, out

__all__ = ["sim_app"]

sim_app = typer.Typer(help="Run a back-end simulator on loopback.", no_args_is_help=True, rich_markup_mode=None)


def _slow_option(values: list[str]) -> dict[str, float]:
    """--slow ENDPOINT=SECONDS, repeated, as {endpoint: seconds}; typer.BadParameter naming the bad one."""
    slow: dict[str, float] = {}
    for value in values:
        endpoint, _, seconds = value.partition("=")
        try:
            duration = float(seconds)
        except ValueError:
            duration = -1.0
        if not endpoint.strip() or not duration >= 0:
            raise typer.BadParameter(
                f"{value!r}: give ENDPOINT=SECONDS with SECONDS ≥ 0, e.g. fuota/status=7", param_hint="--slow"
            )
        slow[endpoint.strip().strip("/").removeprefix("openapi/")] = duration
    return slow


@sim_app.command("iotsquare")
def sim_iotsquare(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free port).")] = 8080,
    devices: Annotated[int, typer.Option(min=1, help="Registered virtual devices.")] = 100,
    loss: Annotated[float, typer.Option(min=0, max=1, help="Each device's fragment loss.")] = 0.1,
    speed: Annotated[float, typer.Option(min=0.001, help="Simulated seconds per real second.")] = 100.0,
    token: Annotated[str, typer.Option(help="The token clients must send.")] = "sim-token",
    devices_csv: Annotated[Path | None, typer.Option(help="Write the devices' EUIs to this CSV (dev_eui).")] = None,
    error_rate: Annotated[
        float, typer.Option(min=0, max=1, help="Share of calls answered HTTP 500/502/503, not carried out.")
    ] = 0.0,
    busy_rate: Annotated[
        float, typer.Option(min=0, max=1, help="Share of calls answered 1001 System Busy, not carried out.")
    ] = 0.0,
    drop_rate: Annotated[
        float, typer.Option(min=0, max=1, help="Share of calls carried out whose connection drops mid-answer.")
    ] = 0.0,
    malformed_rate: Annotated[
        float, typer.Option(min=0, max=1, help="Share of calls carried out and answered with a body that is not JSON.")
    ] = 0.0,
    wrong_rate: Annotated[
        float, typer.Option(min=0, max=1, help="Share of calls carried out and answered with fields of wrong types.")
    ] = 0.0,
    slow: Annotated[
        list[str] | None,
        typer.Option(
            metavar="ENDPOINT=SECONDS",
            help="Wait this long before answering ENDPOINT (e.g. fuota/status=7, beyond the client's timeout); "
            "repeatable.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the channels and of the faults drawn.")] = 0,
) -> None:
    """Run the IoTSquare simulator on 127.0.0.1 until Ctrl-C, optionally with faults (the rates add up to ≤ 1).

    Fragments are paced as a real server would for the plan (the duty-cycle minimum at the region's RX2 data rate,
    ≈ 28 s a 48-byte fragment at EU868: the interval `fuota plan` estimates), scaled by --speed.
    """
    from fuota.sim.iotsquare import Faults, IoTSquareSim, fleet_euis

    try:
        faults = Faults(error_rate, busy_rate, drop_rate, malformed_rate, wrong_rate, slow=_slow_option(slow or []))
        euis = fleet_euis(devices)
        sim = IoTSquareSim(devices=euis, loss=loss, speed=speed, token=token, port=port, faults=faults, seed=seed)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    if devices_csv is not None:
        devices_csv.write_text("dev_eui\n" + "".join(f"{eui}\n" for eui in euis))
    sim.start()
    where = f", EUIs in {devices_csv}" if devices_csv else f" (first {euis[0]})"
    out.print(f"IoTSquare simulator on {sim.url}: {devices} devices{where}, speed ×{speed:g}, token {token!r}")
    if faults.active:
        out.print(f"faults: {faults}")
    sim.serve_forever()


@sim_app.command("milesight")
def sim_milesight(
    broker: Annotated[str, typer.Option(help="Broker URL, mqtt://127.0.0.1:1883.")] = "mqtt://127.0.0.1:1883",
    gateways: Annotated[int, typer.Option(min=1, help="Gateways to play.")] = 3,
    devices: Annotated[int, typer.Option(min=1, help="Virtual devices, spread over the gateways.")] = 300,
    loss: Annotated[float, typer.Option(min=0, max=1, help="Each device's fragment loss.")] = 0.1,
    speed: Annotated[float, typer.Option(min=0.001, help="Simulated seconds per real second.")] = 100.0,
    devices_csv: Annotated[Path | None, typer.Option(help="Write the devices' EUIs to this CSV (dev_eui).")] = None,
    firmware_versions: Annotated[
        str,
        typer.Option(
            help='What firmwareVersion holds: empty ("", the spec\'s sample), running (1.0.0, then 2.0.0 '
            "once upgraded) or fixed (1.0.0 always)."
        ),
    ] = "empty",
    channel_plan: Annotated[
        str, typer.Option(help="The gateways' channelPlan (EU868, CN470, US915, …): its payload sizes and band.")
    ] = "EU868",
) -> None:
    """Play Milesight gateways on an MQTT broker until Ctrl-C: each answers ns-api requests for its EUI."""
    from fuota.sim.iotsquare import fleet_euis
    from fuota.sim.milesight import FirmwareVersions, MilesightSim, gateway_euis

    try:
        versions = FirmwareVersions(firmware_versions)  # type: ignore[arg-type]  # checked by FirmwareVersions
    except ValueError as exc:
        raise fail(f"--firmware-versions: {exc}") from exc

    euis, gateway_list = fleet_euis(devices), gateway_euis(gateways)
    spread = {g: euis[i :: len(gateway_list)] for i, g in enumerate(gateway_list)}
    if devices_csv is not None:
        devices_csv.write_text("dev_eui\n" + "".join(f"{eui}\n" for eui in euis))
    try:
        sim = MilesightSim(
            broker, spread, loss=loss, speed=speed, firmware_versions=versions, channel_plan=channel_plan
        ).start()
    except ValueError as exc:
        raise fail(str(exc)) from exc
    out.print(
        f"Milesight simulator on {broker}: gateways {', '.join(gateway_list)} ({channel_plan}), {devices} devices, "
        f"speed ×{speed:g}"
    )
    sim.serve_forever()
