"""Number fields of configuration and campaign files, strict: a number is written as a TOML number.

pydantic's default (lax) mode turns `redundancy_percent = "30"` into 30 and `= true` into 1, so a quoted value or a
boolean written by mistake would be stored as if it were meant. Every number field of a file fuota reads is
declared with one of these constraints instead (`Annotated[float, number(ge=0, le=100)]`): a string, a boolean or a
float for an integer is refused, naming the field and the value. An integer is accepted where a float is expected
(`timeout = 5`). A duration is also finite and at least MIN_SECONDS: `poll_interval = 1e-300` would poll in a busy
loop, and `inf` or `nan` never come due.

Environment overrides (FUOTA_BACKEND_<NAME>_<FIELD>) are text: fuota.config reads one aimed at a number field as a
TOML number before validation (`number_fields`).
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Field

__all__ = ["MIN_SECONDS", "number", "number_fields", "seconds"]

MIN_SECONDS = 0.05  # the shortest duration fuota accepts: a poll, a call's timeout, a wait


def number(**bounds: float) -> Any:
    """A strict number field's constraints with `bounds` (ge, gt, le, lt): no string, boolean or infinity."""
    return Field(strict=True, allow_inf_nan=False, **bounds)


def seconds(high: float, low: float = MIN_SECONDS) -> Any:
    """A duration in seconds within [low, high], strict and finite."""
    return number(ge=low, le=high)


def _is_number(annotation: Any) -> bool:
    if annotation in (int, float):
        return True
    if get_origin(annotation) is Annotated:
        return _is_number(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_is_number(arg) for arg in get_args(annotation) if arg is not type(None))
    return False


def number_fields(model: type[BaseModel]) -> frozenset[str]:
    """The names of `model`'s fields that hold a number (int or float, optional or not)."""
    return frozenset(name for name, field in model.model_fields.items() if _is_number(field.annotation))
