"""`fuota plan`, `launch`, `run`, `retry` and `abort`: the commands that act on campaigns, through fuota.service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from fuota.campaign import load_campaign
from fuota.cli.common import JsonOption, fail, find, load, open_store, out
from fuota.config import Config
from fuota.core.model import CampaignState
from fuota.core.settings import ConfigError
from fuota.service import campaigns as service

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
    from fuota.planning.forecast import sweep_svg

    config = load()
    try:
        planned = service.plan(config, load_campaign(campaign_file))
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    data = service.forecast(planned, loss=loss, target=target, sweep=sweep or chart is not None)
    if chart is not None and "sweep" in data:
        chart.write_text(sweep_svg(data["sweep"]), encoding="utf-8")
    if as_json:
        print(json.dumps(data, indent=2))
        return
    from fuota.cli.printing import print_plan, print_sweep

    print_plan(out, data)
    if "sweep" in data:
        print_sweep(out, data["sweep"])
    if chart is not None:
        out.print(f"chart written to {chart}")


UpdateOption = Annotated[
    bool,
    typer.Option(
        "--update",
        help="The campaign of that name is stored with other settings: store the file's instead (only while it is "
        "Scheduled and nothing was sent).",
    ),
]


def _launch(campaign_file: Path, update: bool) -> tuple[Config, Store, CampaignRecord, bool]:
    config = load()
    try:
        planned = service.plan(
            config, load_campaign(campaign_file)
        )  # before the store opens: bad input leaves no trace
        store = open_store(config)
        changes = _changes(store, planned) if update else []
        record, resumed = service.launch(store, planned, update=update)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    for change in changes:
        out.print(f"updated {escape(change)}", highlight=False)
    return config, store, record, resumed


def _changes(store: Store, planned: service.CampaignPlan) -> list[str]:
    """What `--update` is about to change in the stored campaign of that name (none when there is none)."""
    from fuota.service.relaunch import differences

    stored = store.campaign(planned.campaign.name)
    return [] if stored is None or stored.state.ended else differences(store, stored, planned)


def launch(campaign_file: Path, as_json: JsonOption = False, update: UpdateOption = False) -> None:
    """Validate and store a campaign in Scheduled (or find the one of that name under way); print its id, its
    schedule (start, window, next opening) and whether a daemon drives it."""
    from fuota.views.schedule import schedule_keys, schedule_lines

    _, store, record, resumed = _launch(campaign_file, update)
    schedule = schedule_keys(record, store.deployments(record.id), store.now())
    if as_json:
        data = {"id": record.id, "name": record.name, "state": record.state, "resumed": resumed, **schedule}
        print(json.dumps(data))
    else:
        out.print(f"{'resumed' if resumed else 'launched'} campaign {record.id} ({record.name}), {record.state}")
        for line in schedule_lines(schedule):
            out.print(escape(line), highlight=False)
    store.close()


def run(campaign_file: Path, update: UpdateOption = False) -> None:
    """Launch (or resume) the campaign and drive it to the end in the foreground, showing progress."""
    config, store, record, resumed = _launch(campaign_file, update)
    _drive(config, store, record, "resuming" if resumed else "running")


def _drive(config: Config, store: Store, record: CampaignRecord, verb: str) -> None:
    """Drive a stored campaign to its end with live progress; exit 0 when it ends Done, else 1."""
    from fuota.backends.errors import AuthError
    from fuota.cli.printing import live_progress, print_status

    out.print(f"{verb} campaign {record.id} ({record.name})")
    try:
        with live_progress(out, store, record.id) as refresh:
            final = service.run(config, store, record.id, on_progress=refresh)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    except AuthError as exc:
        raise fail(f"{exc} (its task exists on the back end: the campaign is kept; run again once fixed)") from exc
    except KeyboardInterrupt:
        raise fail("interrupted; the campaign is kept: `fuota run` resumes it, `fuota abort` stops it", 130) from None
    print_status(out, store, record.id)
    store.close()
    raise typer.Exit(0 if final is CampaignState.DONE else 1)


def retry(campaign: Annotated[str, typer.Argument(help="Id or name of a finished campaign.")]) -> None:
    """Re-run the devices of a finished campaign that did not end updated, as a new campaign NAME.retryN."""
    config = load()
    store = open_store(config)
    record = find(store, campaign)
    try:
        retried = service.retry(config, store, record.id)
        if retried is None:
            out.print(f"campaign {record.id} ({record.name}): every device updated, nothing to retry")
            return
        planned, count = retried
        new, _ = service.launch(store, planned)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    _drive(config, store, new, f"retrying {count} devices of {campaign} as")


def abort(campaign: Annotated[str, typer.Argument(help="Id or name.")]) -> None:
    """Stop a campaign: abort its tasks on the back ends; every device keeps its last stage."""
    config = load()
    store = open_store(config)
    record = find(store, campaign)
    if record.state.ended:
        raise fail(f"campaign {record.id} ({record.name}) already ended {record.state}; nothing to abort", 1)
    try:
        final = service.abort(config, store, record.id, "aborted with `fuota abort`")
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    out.print(f"campaign {record.id} ({record.name}): {final}")
    store.close()
