"""The `fuota` command."""

from __future__ import annotations

import typer

import codec
from fuota import demo as demo_module

app = typer.Typer(help="Orchestrate LoRaWAN FUOTA campaigns.", no_args_is_help=True, add_completion=False)


@app.callback()
def _root() -> None:
    """Orchestrate LoRaWAN FUOTA campaigns."""


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
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(demo_module.report(result))
    if not result.verified:
        raise typer.Exit(1)


def main() -> None:
    """Entry point of the console script."""
    app()
