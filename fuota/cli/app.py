"""The `fuota` command: plan, launch, run, status, list and abort campaigns; run a simulator; the codec demo.

Exit codes: 0 when the command did what it was asked (for `run`: the campaign ended Done), 1 when a campaign ended
Failed or Aborted, 2 on bad input (nothing is stored then). The commands live by group: campaigns.py acts,
reading.py reads, daemon.py drives, sim.py simulates, demo.py shows the codec.
"""

from __future__ import annotations

import typer

from fuota.cli import campaigns, daemon, demo, reading
from fuota.cli.common import ConfigOption, State
from fuota.cli.sim import sim_app

__all__ = ["app", "main"]

app = typer.Typer(help="Orchestrate LoRaWAN FUOTA campaigns.", no_args_is_help=True, add_completion=False)
app.add_typer(sim_app, name="sim")


@app.callback()
def _root(config: ConfigOption = None) -> None:
    """Orchestrate LoRaWAN FUOTA campaigns."""
    State.config_path = config


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
