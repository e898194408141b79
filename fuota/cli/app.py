"""The `fuota` command: plan, launch, run, status, list and abort campaigns; run a simulator; the codec demo.

Exit codes: 0 when the command did what it was asked (for `run`: the campaign ended Done), 1 when a campaign ended
Failed or Aborted, 2 on bad input (nothing is stored then).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

import codec
from fuota.campaign import load_campaign
from fuota.cli.common import fail, out
from fuota.cli.sim import sim_app
from fuota.config import Config, ConfigError, load_config
from fuota.core.model import CampaignState, Outcome
from fuota.sim import codec_demo as demo_module

if TYPE_CHECKING:  # the store pulls in SQLAlchemy: imported where a command needs it
    from fuota.store import CampaignRecord, Store

app = typer.Typer(help="Orchestrate LoRaWAN FUOTA campaigns.", no_args_is_help=True, add_completion=False)
app.add_typer(sim_app, name="sim")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="Configuration file (else $FUOTA_CONFIG, ./fuota.toml).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


class _State:
    config_path: Path | None = None


def _config() -> Config:
    try:
        return load_config(_State.config_path)
    except ConfigError as exc:
        raise fail(str(exc)) from exc


@app.callback()
def _root(config: ConfigOption = None) -> None:
    """Orchestrate LoRaWAN FUOTA campaigns."""
    _State.config_path = config


def _store(config: Config):
    from fuota.store import Store, StoreError

    try:
        return Store(config.store.url)
    except StoreError as exc:
        raise fail(str(exc)) from exc


def _backends(config: Config, names: set[str]) -> dict:
    from fuota.backends.registry import make_backend

    try:
        return {name: make_backend(name, config.backend(name)) for name in names}
    except ConfigError as exc:
        raise fail(str(exc)) from exc


@app.command()
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

    config = _config()
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

    config = _config()
    try:
        campaign = load_campaign(campaign_file)
        plans = plan_campaign(campaign, config)  # before the store is opened: bad input leaves no trace
        store = _store(config)
        record, resumed = launch_campaign(store, campaign, plans)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    return config, store, record, resumed


@app.command()
def launch(campaign_file: Path, as_json: JsonOption = False) -> None:
    """Validate and store a campaign in Scheduled (or find the one of that name under way); print its id."""
    _, store, record, resumed = _launch(campaign_file)
    if as_json:
        print(json.dumps({"id": record.id, "name": record.name, "state": record.state, "resumed": resumed}))
    else:
        out.print(f"{'resumed' if resumed else 'launched'} campaign {record.id} ({record.name}), {record.state}")
    store.close()


@app.command()
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
    backends = _backends(config, names)
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


@app.command()
def retry(campaign: Annotated[str, typer.Argument(help="Id or name of a finished campaign.")]) -> None:
    """Re-run the devices of a finished campaign that did not end updated, as a new campaign NAME.retryN."""
    from fuota.campaign import Campaign, CampaignFile
    from fuota.service.campaigns import launch as launch_campaign
    from fuota.service.campaigns import plan_campaign

    config = _config()
    store = _store(config)
    record = _find(store, campaign)
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


@app.command()
def status(
    campaign: Annotated[str | None, typer.Argument(help="Id or name; default: the newest.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Show a campaign: its state, its deployments and every device's stage, outcome and reason."""
    from fuota.cli.printing import print_status, status_data

    store = _store(_config())
    record = _find(store, campaign)
    if as_json:
        print(json.dumps(status_data(store, record.id), indent=2, default=str))
    else:
        print_status(out, store, record.id)
    store.close()


@app.command()
def daemon(
    log_json: Annotated[bool, typer.Option("--log-json", help="Log one JSON object per line to stderr.")] = False,
    name: Annotated[
        str | None,
        typer.Option(
            help="This daemon's name among the daemons sharing the store (default: daemon@HOST:PID). Restarted "
            "under the same name, it takes its deployments back at once instead of waiting for their leases."
        ),
    ] = None,
    lease_seconds: Annotated[
        float,
        typer.Option(
            min=2.0,
            max=3600.0,
            help="How long a deployment stays with this daemon after its last renewal: another daemon takes it "
            "over that long after this one dies.",
        ),
    ] = 30.0,
    http: Annotated[
        str | None,
        typer.Option("--http", metavar="HOST:PORT", help="Serve the dashboard and /metrics here (host: 127.0.0.1)."),
    ] = None,
) -> None:
    """Drive every campaign in the store on schedule until SIGTERM/SIGINT (then exit 0). Several daemons may
    share one store (PostgreSQL, or SQLite on one machine): they divide the deployments between them.

    With --http, also serve a dashboard of the campaigns (pages, their JSON twins under /api, abort with the
    configuration's dashboard token) and Prometheus metrics at /metrics.
    """
    import logging
    import sys
    from datetime import timedelta

    from fuota.service.daemon import Daemon, JsonFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_json else logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    # Their INFO lines (each scheduler run, each HTTP request, each migration check) would drown fuota's own.
    for chatty in ("apscheduler", "httpx", "alembic"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    config = _config()
    store = _store(config)
    backends = _backends(config, set(config.backends))
    metrics, dashboard = None, None
    try:
        if http is not None:
            metrics, backends, dashboard = _dashboard(http, store, config, backends)
        Daemon(store, config, backends, metrics=metrics, name=name, lease=timedelta(seconds=lease_seconds)).serve()
    finally:
        if dashboard is not None:
            dashboard.stop()
        for backend in backends.values():
            backend.close()
        store.close()


def _dashboard(address: str, store: Store, config: Config, backends: dict):
    """The daemon's metrics, its back ends measured by them, and its dashboard serving at `address`."""
    import stamina.instrumentation

    from fuota.views.metrics import DaemonMetrics
    from fuota.web import DashboardError, start_dashboard

    metrics = DaemonMetrics(store)
    metered = metrics.wrap(backends)
    stamina.instrumentation.set_on_retry_hooks([metrics.on_retry])
    try:
        return metrics, metered, start_dashboard(address, store, config, metered, metrics)
    except (DashboardError, ConfigError) as exc:
        raise fail(str(exc)) from exc


@app.command()
def watch(campaign: Annotated[str | None, typer.Argument(help="Id or name; default: the newest.")] = None) -> None:
    """Follow a campaign live from the store (beside `fuota run` or a daemon); exit 0 when it ends Done, else 1."""
    from fuota.views.watch import watch as watch_campaign

    store = _store(_config())
    record = _find(store, campaign)
    try:
        final = watch_campaign(out, store, record.id)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    finally:
        store.close()
    raise typer.Exit(0 if final is CampaignState.DONE else 1)


@app.command()
def report(
    campaign: Annotated[str | None, typer.Argument(help="Id or name; default: the newest.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text, json, csv or html.")] = "text",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to this file.")] = None,
) -> None:
    """A campaign's report from the store: summary, failure reasons, deployments and every device."""
    from fuota.views.report import FORMATS, render, report_data

    if fmt not in FORMATS:
        raise fail(f"--format = {fmt!r} is not one of {', '.join(FORMATS)}")
    store = _store(_config())
    try:
        text = render(report_data(store, _find(store, campaign).id), fmt)
    finally:
        store.close()
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"-o {output}: cannot write the report: {exc.strerror}") from exc
    out.print(f"report written to {output}")


@app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """List the campaigns, newest first."""
    from fuota.cli.printing import print_list

    store = _store(_config())
    records = store.campaigns()
    if as_json:
        print(
            json.dumps(
                [
                    {"id": r.id, "name": r.name, "state": r.state, "created_at": r.created_at.isoformat()}
                    for r in records
                ],
                indent=2,
            )
        )
    else:
        print_list(out, records)
    store.close()


@app.command()
def abort(campaign: Annotated[str, typer.Argument(help="Id or name.")]) -> None:
    """Stop a campaign: abort its tasks on the back ends; every device keeps its last stage."""
    from fuota.service.runner import Runner

    config = _config()
    store = _store(config)
    record = _find(store, campaign)
    if record.state.ended:
        raise fail(f"campaign {record.id} ({record.name}) already ended {record.state}; nothing to abort", 1)
    names = {d.backend for d in store.deployments(record.id)}
    backends = _backends(config, names)
    final = Runner(store, backends).abort(record.id, "aborted with `fuota abort`")
    out.print(f"campaign {record.id} ({record.name}): {final}")
    store.close()


def _find(store, key: str | None):
    records = store.campaigns()
    if key is None:
        if not records:
            raise fail("no campaign yet; `fuota launch CAMPAIGN.toml` stores one")
        return records[0]
    record = store.campaign(int(key)) if key.isdigit() else store.campaign(key)
    if record is None:
        raise fail(f"campaign {key!r} does not exist; `fuota list` shows the campaigns")
    return record


@app.command()
def demo(
    size: int = typer.Option(100_000, min=1, help="Image size in bytes."),
    frag_size: int = typer.Option(232, min=1, max=255, help="Fragment size in bytes."),
    percent: float = typer.Option(30, min=0, help="Redundancy, % of the uncoded fragments (rounded up)."),
    loss: float = typer.Option(0.10, min=0, max=1, help="Share of the fragments lost on the way."),
    version: int = typer.Option(1, min=1, max=2, help="TS004 version: 1 (v1.0.0) or 2 (v2.0.0)."),
    seed: int = typer.Option(1, help="Seed of the image and of the losses."),
) -> None:
    """Encode an image, lose fragments at random, decode on one device and verify."""
    try:
        result = demo_module.run(size, frag_size, percent, loss, version, seed)
    except codec.CodecError as exc:
        raise fail(str(exc)) from exc
    typer.echo(demo_module.report(result))
    if not result.verified:
        raise typer.Exit(1)


def main() -> None:
    """Entry point of the console script."""
    import stamina.instrumentation

    # Retries are the adapters' business; what still fails is recorded as an event of the campaign.
    stamina.instrumentation.set_on_retry_hooks([])
    app()
