"""The `fuota` command (Typer), split by command group."""

from fuota.cli.app import app, main

__all__ = ["app", "main"]
