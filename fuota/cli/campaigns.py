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
    from fuota.service import retries
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


def _launch(campaign_file: Path) -> tuple[Config, Store, CampaignRecord, bool]:
    config = load()
    try:
        planned = service.plan(
            config, load_campaign(campaign_file)
        )  # before the store opens: bad input leaves no trace
        store = open_store(config)
        record, resumed = service.launch(store, planned)
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

    out.print(f"{verb} campaign {record.id} ({record.name})")
    try:
        with live_progress(out, store, record.id) as refresh:
            final = service.run(config, store, record.id, on_progress=refresh)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    except AuthError as exc:
        raise fail(f"{exc} (the campaign is kept; run again once fixed)") from exc
    except KeyboardInterrupt:
        raise fail("interrupted; the campaign is kept: `fuota run` resumes it, `fuota abort` stops it", 130) from None
    print_status(out, store, record.id)
    store.close()
    raise typer.Exit(0 if final is CampaignState.DONE else 1)


def retry(
    campaign: Annotated[str, typer.Argument(help="Id or name of a campaign or of any of its retries.")],
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            help="Only the devices whose latest outcome is this: failed, unreachable, aborted or skipped "
            "(repeat it, or give a comma list).",
        ),
    ] = None,
    redundancy_percent: Annotated[
        float | None,
        typer.Option(help="Coded fragments in % of the uncoded ones (default: the family's newest campaign's)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan and the devices chosen; send and store nothing.")
    ] = False,
    launch_only: Annotated[
        bool, typer.Option("--launch-only", help="Store it Scheduled, as `fuota launch` does: the daemon drives it.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Retry the devices the campaign's family (it and all its retries) has not updated, as campaign ROOT.retryN.

    A device updated by any campaign of the family is never sent the image again; --only picks devices by their
    latest outcome in the family. Refused while a campaign of the family is still Scheduled or Running.
    """
    from fuota.service import retries

    if dry_run and launch_only:
        raise fail("--dry-run stores nothing and --launch-only stores the retry: give one of them")
    config = load()
    store = open_store(config)
    record = find(store, campaign)
    try:
        retried = retries.retry(config, store, record.id, only=only or (), redundancy_percent=redundancy_percent)
        if retried.refused is not None and not dry_run:
            raise ConfigError(retried.refused)
        if retried.planned is None or dry_run:
            _show_retry(store, record.id, retried, as_json)
            return
        new, _ = service.launch(store, retried.planned)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    count = len(retried.chosen)
    if launch_only:
        if as_json:
            print(json.dumps({"id": new.id, "name": new.name, "state": new.state, "resumed": False,
                              "retry_of": retried.root.id, "devices": count}))  # fmt: skip
        else:
            out.print(f"launched campaign {new.id} ({new.name}), {new.state}: {count} devices of {retried.root.name}")
        store.close()
        return
    _drive(config, store, new, f"retrying {count} devices of {retried.root.name} as")


def _show_retry(store: Store, campaign_id: int, retried: retries.RetryPlan, as_json: bool) -> None:
    """A dry run's output (or that of a family with nothing left to retry): the plan as `fuota plan` shows it,
    the devices chosen and the family's total. Sends and stores nothing."""
    from fuota.cli.printing import print_plan, print_retry
    from fuota.views.family import family_data

    family = family_data(store, campaign_id)
    data = service.forecast(retried.planned) if retried.planned is not None else {}
    data["retry"] = {
        "name": retried.name,
        "retry_of": {"id": retried.root.id, "name": retried.root.name},
        "only": sorted(retried.only),
        "refused": retried.refused,
        "redundancy_percent": None if retried.planned is None else retried.planned.settings.redundancy_percent,
        "left_out_updated": retried.updated,
        "devices": [
            {"dev_eui": d.dev_eui, "latest_outcome": d.outcome, "campaign_id": d.campaign_id} for d in retried.chosen
        ],
    }
    data["family"] = family
    store.close()
    if as_json:
        print(json.dumps(data, indent=2))
        return
    if retried.planned is not None:
        print_plan(out, data)
    print_retry(out, data["retry"], family)
    if retried.refused is not None:
        out.print(f"[yellow]not retried:[/] {escape(retried.refused)}")
    if retried.planned is not None:
        out.print("dry run: nothing was sent or stored; run it again without --dry-run to launch this retry")


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
