"""The TS004 reference vectors in ../shared/vectors, beside the project's clone."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["VECTORS", "load_index", "load_json", "require_vectors"]

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors"


def require_vectors() -> Path:
    """The vectors folder; FileNotFoundError saying where to clone when it is missing."""
    if not (VECTORS / "index.json").is_file():
        raise FileNotFoundError(
            f"reference vectors not found at {VECTORS}: clone the project beside the shared/ folder "
            "(CI does) so that ../shared/vectors exists"
        )
    return VECTORS


def load_index() -> list[dict]:
    """Every vector of index.json (at collection time, for parametrization)."""
    return json.loads((require_vectors() / "index.json").read_text())["vectors"]


def load_json(name: str) -> object:
    """A JSON file of the vectors folder."""
    return json.loads((require_vectors() / name).read_text())
