"""The `fuota` command: plan, launch, run, status, list and abort campaigns; run a simulator; the codec demo.

Exit codes: 0 when the command did what it was asked (for `run`: the campaign ended Done), 1 when a campaign ended
Failed or Aborted, 2 on bad input (nothing is stored then). The commands live by group: campaigns.py acts,
reading.py reads, daemon.py drives, gateway.py looks after gateways' tasks, sim.py simulates, demo.py shows the
codec.
"""

from __future__ import annotations

from typing import Annotated

import typer

from fuota.cli import campaigns, daemon, demo, reading
from fuota.cli.common import ConfigOption, State, StoreOption
from fuota.cli.gateway import gateway_app
from fuota.cli.sim import sim_app

__all__ = ["app", "main"]

# Plain help (no Rich panels): Typer's Rich help prints a "<bool>" type beside every flag, which takes no value.
app = typer.Typer(
    help="Orchestrate LoRaWAN FUOTA campaigns.", no_args_is_help=True, add_completion=False, rich_markup_mode=None
)
app.add_typer(sim_app, name="sim")
app.add_typer(gateway_app, name="gateway")


def _version(asked: bool) -> None:
    if asked:
        from importlib.metadata import version

        print(f"fuota {version('fuota')}")
        raise typer.Exit(0)


@app.callback()
def _root(
    config: ConfigOption = None,
    store: StoreOption = None,
    _: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Orchestrate LoRaWAN FUOTA campaigns."""
    State.config_path = config
    State.store_url = store


for command in (
    campaigns.plan,
    campaigns.launch,
    campaigns.run,
    campaigns.retry,
    reading.status,
    daemon.daemon,
    reading.watch,
    reading.report,
):
    app.command()(command)
app.command("list")(reading.list_)
app.command()(campaigns.abort)
app.command()(demo.demo)


def main() -> None:
    """Entry point of the console script."""
    import stamina.instrumentation

    # Retries are the adapters' business; what still fails is recorded as an event of the campaign.
    stamina.instrumentation.set_on_retry_hooks([])
    app()
