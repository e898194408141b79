"""Readers of the fields of a back end's answer, shared by the adapters.

Each raises TypeError or ValueError naming the field and the value it met, which the adapter's `answer_shape`
turns into MalformedAnswer: an answer that breaks its spec never escapes as a KeyError, AttributeError or
OverflowError from deep inside an adapter.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fuota.backends.errors import MalformedAnswer
from fuota.core.model import EUI_PATTERN, normalize_eui

__all__ = ["eui", "items", "obj", "shaped", "whole"]


@contextmanager
def shaped(where: str) -> Iterator[None]:
    """Turn a missing field or a value of the wrong type (an item that is no object too), met while reading an
    answer from `where`, into MalformedAnswer."""
    try:
        yield
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise MalformedAnswer(f"{where}: unexpected answer ({type(exc).__name__}: {exc})") from exc


def obj(value: object, where: str) -> dict[str, Any]:
    """`value` when it is a JSON object."""
    if not isinstance(value, dict):
        raise TypeError(f"{where} = {value!r} is not an object")
    return value


def items(value: object, where: str) -> list[dict[str, Any]]:
    """`value` when it is a list of JSON objects (the rows of a list call, of a batch refusal)."""
    if not isinstance(value, list):
        raise TypeError(f"{where} = {value!r} is not a list")
    return [obj(item, f"{where}[{index}]") for index, item in enumerate(value)]


def whole(value: object, where: str) -> int:
    """`value` as an int when it is one, or a string or float holding one (the specs send either)."""
    if not isinstance(value, bool) and (not isinstance(value, float) or value.is_integer()):
        try:
            return int(value)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            pass
    raise ValueError(f"{where} = {value!r} is not a whole number")


def eui(item: dict[str, Any], field: str, where: str) -> str:
    """The EUI-64 in `item[field]`, normalized; KeyError when it is absent."""
    value = item[field]
    if not isinstance(value, str) or not EUI_PATTERN.match(value.strip()):
        raise ValueError(f"{where}.{field} = {value!r} is not an EUI (16 hexadecimal digits)")
    return normalize_eui(value)
