"""What every `fuota` command shares: its consoles and how it fails."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

__all__ = ["err", "fail", "out"]

err = Console(stderr=True)
out = Console()


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print `message` as an error on stderr; the Exit to raise with `code` (2: bad input, nothing stored)."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)
