"""`fuota status`, `list`, `watch` and `report`: the commands that read campaigns from the store."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from fuota.cli.common import JsonOption, err, fail, find, load, open_store, out
from fuota.core.model import CampaignState

__all__ = ["list_", "report", "status", "watch"]


def status(
    campaign: Annotated[str | None, typer.Argument(help="Id or name; default: the newest.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Show a campaign: its state, its deployments and every device's stage, outcome and reason."""
    from fuota.cli.printing import print_status
    from fuota.views.model import status_data

    store = open_store(load())
    record = find(store, campaign)
    if as_json:
        print(json.dumps(status_data(store, record.id), indent=2, default=str))
    else:
        print_status(out, store, record.id)
    store.close()


def list_(as_json: JsonOption = False) -> None:
    """List the campaigns, newest first."""
    from fuota.cli.printing import print_list
    from fuota.views.model import campaign_list

    store = open_store(load())
    rows = campaign_list(store)
    if as_json:
        print(json.dumps(rows, indent=2))
    else:
        print_list(out, rows)
    store.close()


def watch(campaign: Annotated[str | None, typer.Argument(help="Id or name; default: the newest.")] = None) -> None:
    """Follow a campaign live from the store (beside `fuota run` or a daemon); exit 0 when it ends Done, else 1.
    When no daemon has driven the campaign for longer than a lease, it says so (and goes on watching)."""
    from fuota.views.watch import watch as watch_campaign

    store = open_store(load())
    record = find(store, campaign)
    try:
        final = watch_campaign(
            out, store, record.id, clock=lambda: datetime.now(UTC), warn=lambda text: err.print(f"warning: {text}")
        )
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    finally:
        store.close()
    raise typer.Exit(0 if final is CampaignState.DONE else 1)


def report(
    campaign: Annotated[str | None, typer.Argument(help="Id or name; default: the newest.")] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="text, json, csv (devices), reasons-csv (categories) or html.")
    ] = "text",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to this file.")] = None,
) -> None:
    """A campaign's report from the store: summary, failure reasons, deployments and every device."""
    from fuota.views.report import FORMATS, render, report_data

    if fmt not in FORMATS:
        raise fail(f"--format = {fmt!r} is not one of {', '.join(FORMATS)}")
    store = open_store(load())
    try:
        text = render(report_data(store, find(store, campaign).id), fmt)
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
