"""`fuota plan`, `launch`, `run`, `retry` and `abort`: the commands that act on campaigns, through fuota.service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from fuota.campaign import load_campaign
from fuota.cli.common import JsonOption, err, fail, find, load, open_store, out
from fuota.config import Config
from fuota.core.model import CampaignState
from fuota.core.settings import ConfigError

# fuota.service.campaigns is imported inside the commands that use it: it pulls in the store (SQLAlchemy, Alembic:
# half a second), which `fuota plan` never needs.
if TYPE_CHECKING:
    from fuota.service import retries
    from fuota.service.planned import CampaignPlan
    from fuota.store import CampaignRecord, Store

__all__ = ["abort", "launch", "plan", "retry", "run"]


StrictOption = Annotated[
    bool,
    typer.Option(
        "--strict-duty-cycle",
        help="Refuse (exit 2) a fragment interval shorter than the region's duty cycle allows, instead of warning.",
    ),
]


def plan(
    campaign_file: Path,
    as_json: JsonOption = False,
    target: Annotated[float | None, typer.Option(min=0, max=1, help="Share of devices that must decode.")] = None,
    loss: Annotated[float | None, typer.Option(min=0, max=0.99, help="Fragment loss (default: expected_loss).")] = None,
    sweep: Annotated[bool, typer.Option("--sweep", help="Share decoding for redundancy × loss.")] = False,
    chart: Annotated[Path | None, typer.Option(help="Write the sweep as an SVG chart here.")] = None,
    strict_duty_cycle: StrictOption = False,
    offline: Annotated[
        bool, typer.Option("--offline", help="Forecast only: ask the back end nothing that planning does not need.")
    ] = False,
) -> None:
    """A dry run: check what can be checked and forecast what would be sent. Sends and stores nothing.

    Asks the back end, read-only, for what it can tell (token, reachability, registered devices, an existing
    group's members); forecasts pacing (the interval sent, or estimated where the back end paces by itself),
    duration, finish time and the share of devices decoding, and warns of a duty-cycle breach or a forecast below
    success_threshold. --target finds the smallest redundancy whose share of decoding devices reaches it (Monte
    Carlo on the real TS004 matrix, with a 95 % interval); --sweep tabulates redundancy × loss and --chart draws it.
    --offline skips the back-end checks (Milesight planning still asks the gateways which devices each knows).
    """
    from fuota.cli.plan_output import forecast_progress
    from fuota.planning.forecast import sweep_svg
    from fuota.service import forecasting
    from fuota.service.planned import plan as plan_campaign

    config = load()
    if chart is not None and not chart.parent.is_dir():
        # Checked first: a sweep takes seconds, and its chart would then have nowhere to go.
        raise fail(f"--chart {chart}: the folder {chart.parent} does not exist; create it or pick another path")
    try:
        planned = plan_campaign(config, load_campaign(campaign_file), check=not offline)
        forecasting.duty_cycle_issues(config, planned, strict_duty_cycle)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    with forecast_progress() as progress:
        data = forecasting.forecast(
            config, planned, loss=loss, target=target, sweep=sweep or chart is not None, progress=progress
        )
    if chart is not None and "sweep" in data:
        try:
            chart.write_text(sweep_svg(data["sweep"]), encoding="utf-8")
        except OSError as exc:
            raise fail(f"--chart {chart}: cannot write the chart: {exc.strerror}") from exc
    if as_json:
        print(json.dumps(data, indent=2))
        return
    from fuota.cli.plan_output import print_plan
    from fuota.cli.printing import print_sweep

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


def _launch(
    campaign_file: Path, update: bool, strict: bool = False
) -> tuple[Config, Store, CampaignRecord, bool, list[str]]:
    from fuota.service import campaigns as service

    config = load()
    try:
        # Before the store opens: bad input (and a strict duty-cycle breach) leaves no trace.
        planned = service.plan(config, load_campaign(campaign_file))
        warnings = service.duty_cycle_issues(config, planned, strict)
        store = open_store(config)
        changes = _changes(store, planned) if update else []
        record, resumed = service.launch(store, planned, update=update)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    for warning in warnings:
        err.print(f"[bold yellow]warning:[/] {escape(warning)}", highlight=False)
    for change in changes:
        out.print(f"updated {escape(change)}", highlight=False)
    return config, store, record, resumed, warnings


def _changes(store: Store, planned: CampaignPlan) -> list[str]:
    """What `--update` is about to change in the stored campaign of that name (none when there is none)."""
    from fuota.service.relaunch import differences

    stored = store.campaign(planned.campaign.name)
    return [] if stored is None or stored.state.ended else differences(store, stored, planned)


def launch(
    campaign_file: Path,
    as_json: JsonOption = False,
    update: UpdateOption = False,
    strict_duty_cycle: StrictOption = False,
) -> None:
    """Validate and store a campaign in Scheduled (or find the one of that name under way); print its id, its
    schedule (start, window, next opening) and whether a daemon drives it. A fragment interval shorter than the
    duty cycle allows is warned of (refused with --strict-duty-cycle)."""
    from fuota.views.schedule import schedule_keys, schedule_lines

    _, store, record, resumed, warnings = _launch(campaign_file, update, strict_duty_cycle)
    schedule = schedule_keys(record, store.deployments(record.id), store.now())
    if as_json:
        data = {"id": record.id, "name": record.name, "state": record.state, "resumed": resumed, **schedule}
        print(json.dumps(data | {"warnings": warnings}))
    else:
        out.print(f"{'resumed' if resumed else 'launched'} campaign {record.id} ({record.name}), {record.state}")
        for line in schedule_lines(schedule):
            out.print(escape(line), highlight=False)
    store.close()


def run(campaign_file: Path, update: UpdateOption = False) -> None:
    """Launch (or resume) the campaign and drive it to the end in the foreground, showing progress."""
    config, store, record, resumed, _ = _launch(campaign_file, update)
    _drive(config, store, record, "resuming" if resumed else "running")


def _drive(config: Config, store: Store, record: CampaignRecord, verb: str) -> None:
    """Drive a stored campaign to its end with live progress; exit 0 when it ends Done, else 1."""
    from fuota.cli.printing import live_progress, print_status
    from fuota.service import campaigns as service

    out.print(f"{verb} campaign {record.id} ({record.name})")
    try:
        with live_progress(out, store, record.id) as refresh:
            final = service.run(config, store, record.id, on_progress=refresh)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    except KeyboardInterrupt:
        from fuota.backends import deadline

        deadline.stop()  # the step threads still under way start no retry or call: the exit waits one call at most
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
    from fuota.service import campaigns as service
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
            _show_retry(config, store, record.id, retried, as_json)
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


def _show_retry(config: Config, store: Store, campaign_id: int, retried: retries.RetryPlan, as_json: bool) -> None:
    """A dry run's output (or that of a family with nothing left to retry): the plan as `fuota plan` shows it,
    the devices chosen and the family's total. Sends and stores nothing."""
    from fuota.cli.plan_output import print_plan
    from fuota.cli.printing import print_retry
    from fuota.service import campaigns as service
    from fuota.views.family import family_data

    family = family_data(store, campaign_id)
    data = service.forecast(config, retried.planned) if retried.planned is not None else {}
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
    from fuota.service import campaigns as service

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
