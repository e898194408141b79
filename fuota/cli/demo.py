"""`fuota demo`: the codec alone, on one simulated device."""

from __future__ import annotations

import typer

import codec
from fuota.cli.common import fail

__all__ = ["demo"]


def demo(
    size: int = typer.Option(100_000, min=1, help="Image size in bytes."),
    frag_size: int = typer.Option(232, min=1, max=255, help="Fragment size in bytes."),
    percent: float = typer.Option(30, min=0, help="Redundancy, % of the uncoded fragments (rounded up)."),
    loss: float = typer.Option(0.10, min=0, max=1, help="Share of the fragments lost on the way."),
    version: int = typer.Option(1, min=1, max=2, help="TS004 version: 1 (v1.0.0) or 2 (v2.0.0)."),
    seed: int = typer.Option(1, help="Seed of the image and of the losses."),
) -> None:
    """Encode an image, lose fragments at random, decode on one device and verify."""
    from fuota.sim import codec_demo  # the simulators and numpy: not for every other command's start

    try:
        result = codec_demo.run(size, frag_size, percent, loss, version, seed)
    except codec.CodecError as exc:
        raise fail(str(exc)) from exc
    typer.echo(codec_demo.report(result))
    if not result.verified:
        raise typer.Exit(1)
