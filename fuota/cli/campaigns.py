"""`fuota plan`, `launch`, `run`, `retry` and `abort`: the commands that act on campaigns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fuota.campaign import load_campaign
from fuota.cli.common import JsonOption, build_backends, fail, find, load, open_store, out
from fuota.config import Config, ConfigError
from fuota.core.model import CampaignState, Outcome

if TYPE_CHECKING:
    from fuota.store import CampaignRecord, Store

__all__ = ["abort", "launch", "plan", "retry", "run"]


def plan(
    campaign_file: Path,
    as_json: JsonOption = False,
    target: Annotated[float | None, typer.Option(min=0, max=1, help="Share of devices that must decode.")] = None,
    loss: Annotated[float | None, typer.Option(min=0, max=0.99, help="Fragment loss (default: expected_loss).")] = None,
    sweep: Annotated[bool, typer.Option("--sweep", help="Share decoding for redundancy × loss.")] = False,
    chart: Annotated[Path | None, typer.Option(help="Write the sweep as an SVG chart here.")] = None,
) -> None:
    """Show what would be sent and forecast it: pacing, duration, share decoding. Sends and stores nothing.

    --target finds the smallest redundancy whose share of decoding devices reaches it (Monte Carlo on the real
    TS004 matrix, with a 95 % interval); --sweep tabulates redundancy × loss and --chart draws it.
    """
    from fuota.planning.forecast import recommendation, sweep_svg, sweep_table
    from fuota.service.campaigns import plan_campaign

    config = load()
    try:
        campaign = load_campaign(campaign_file)
        plans = plan_campaign(campaign, config)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    rate = campaign.file.expected_loss if loss is None else loss
    deployments = [p.as_dict(rate, campaign.file.start) for p in plans]
    data: dict[str, object] = {
        "name": campaign.name,
        "firmware": {"size": len(campaign.firmware), "sha256": campaign.sha256},
        "devices": len(campaign.devices),
        "deployments": deployments,
    }
    if target is not None and plans:
        first = deployments[0]["plan"]
        data["recommendations"] = [
            recommendation(first["nb_frag"], first["redundancy"], first["interval_ms"], target, rate)
        ]
    if (sweep or chart is not None) and plans:
        m = plans[0].plan.nb_frag
        steps = sorted({round(m * f / 100) for f in range(0, 101, 10)})
        data["sweep"] = table = sweep_table(m, steps, [0.02, 0.05, 0.1, 0.15, 0.2])
        if chart is not None:
            chart.write_text(sweep_svg(table), encoding="utf-8")
    if as_json:
        print(json.dumps(data, indent=2))
        return
    from fuota.cli.printing import print_plan, print_sweep

    print_plan(out, data)
    if "sweep" in data:
        print_sweep(out, data["sweep"])
    if chart is not None:
        out.print(f"chart written to {chart}")


def _launch(campaign_file: Path):
    from fuota.service.campaigns import launch as launch_campaign
    from fuota.service.campaigns import plan_campaign

    config = load()
    try:
        campaign = load_campaign(campaign_file)
        plans = plan_campaign(campaign, config)  # before the store is opened: bad input leaves no trace
        store = open_store(config)
        record, resumed = launch_campaign(store, campaign, plans)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    return config, store, record, resumed


def launch(campaign_file: Path, as_json: JsonOption = False) -> None:
    """Validate and store a campaign in Scheduled (or find the one of that name under way); print its id."""
    _, store, record, resumed = _launch(campaign_file)
    if as_json:
        print(json.dumps({"id": record.id, "name": record.name, "state": record.state, "resumed": resumed}))
    else:
        out.print(f"{'resumed' if resumed else 'launched'} campaign {record.id} ({record.name}), {record.state}")
    store.close()


def run(campaign_file: Path) -> None:
    """Launch (or resume) the campaign and drive it to the end in the foreground, showing progress."""
    config, store, record, resumed = _launch(campaign_file)
    _drive(config, store, record, "resuming" if resumed else "running")


def _drive(config: Config, store: Store, record: CampaignRecord, verb: str) -> None:
    """Drive a stored campaign to its end with live progress; exit 0 when it ends Done, else 1."""
    from fuota.backends.errors import AuthError
    from fuota.cli.printing import live_progress, print_status
    from fuota.service.runner import Runner

    names = {d.backend for d in store.deployments(record.id)}
    backends = build_backends(config, names)
    runner = Runner(
        store,
        backends,
        poll_interval={n: config.backend(n).poll_interval for n in names},
        give_up_after={n: config.backend(n).give_up_after for n in names},
    )
    out.print(f"{verb} campaign {record.id} ({record.name})")
    try:
        with live_progress(out, store, record.id) as refresh:
            final = runner.run(record.id, on_progress=refresh)
    except AuthError as exc:
        raise fail(f"{exc} (the campaign is kept; run again once fixed)") from exc
    except KeyboardInterrupt:
        raise fail("interrupted; the campaign is kept: `fuota run` resumes it, `fuota abort` stops it", 130) from None
    finally:
        for backend in backends.values():
            backend.close()
    print_status(out, store, record.id)
    store.close()
    raise typer.Exit(0 if final is CampaignState.DONE else 1)


def retry(campaign: Annotated[str, typer.Argument(help="Id or name of a finished campaign.")]) -> None:
    """Re-run the devices of a finished campaign that did not end updated, as a new campaign NAME.retryN."""
    from fuota.campaign import Campaign, CampaignFile
    from fuota.service.campaigns import launch as launch_campaign
    from fuota.service.campaigns import plan_campaign

    config = load()
    store = open_store(config)
    record = find(store, campaign)
    if not record.state.ended:
        raise fail(f"campaign {record.id} ({record.name}) is {record.state}; retry it once it has ended")
    devices = tuple(d.dev_eui for d in store.devices(campaign_id=record.id) if d.outcome is not Outcome.UPDATED)
    if not devices:
        out.print(f"campaign {record.id} ({record.name}): every device updated, nothing to retry")
        return
    taken = {r.name for r in store.campaigns()}
    name = next(f"{record.name}.retry{n}" for n in range(1, 1000) if f"{record.name}.retry{n}" not in taken)
    spec = {k: v for k, v in record.spec.items() if k not in ("options", "devices_file", "firmware_path")}
    # The image stored at launch is sent again, still checked against the file it came from.
    source = Path(record.spec["firmware_path"]) if record.spec.get("firmware_path") else None
    try:
        file = CampaignFile.model_validate({**spec, "name": name, "devices": list(devices), "start": None})
        retried = Campaign(file=file, firmware=store.firmware(record.id), devices=devices, firmware_path=source)
        record, _ = launch_campaign(store, retried, plan_campaign(retried, config))
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    _drive(config, store, record, f"retrying {len(devices)} devices of {campaign} as")


def abort(campaign: Annotated[str, typer.Argument(help="Id or name.")]) -> None:
    """Stop a campaign: abort its tasks on the back ends; every device keeps its last stage."""
    from fuota.service.runner import Runner

    config = load()
    store = open_store(config)
    record = find(store, campaign)
    if record.state.ended:
        raise fail(f"campaign {record.id} ({record.name}) already ended {record.state}; nothing to abort", 1)
    names = {d.backend for d in store.deployments(record.id)}
    backends = build_backends(config, names)
    final = Runner(store, backends).abort(record.id, "aborted with `fuota abort`")
    out.print(f"campaign {record.id} ({record.name}): {final}")
    store.close()
