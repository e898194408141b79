"""Whether a JSON value has the keys and JSON types of a spec sample, and the samples of tests/conformance/samples.

The rules of `problems(actual, sample)`:

- an object must have every key of the sample (unless ALLOWANCES lists it as missing, with the reason) and no key
  the sample lacks (unless ALLOWANCES lists it as extra); each key's value is checked against the sample's;
- a list must be a list; each element must match one of the sample's elements; a sample's empty list matches
  any list;
- a number ("number": int or float, never a bool) matches any number; a sample's string — "" included — any
  string; a bool any bool;
- the sample's null matches anything (the spec gives no type).

Milesight's ns-api messages are checked in two parts: the envelope (everything but `body`) against chapter 1's
"Request Format" / "Response Format", the body against the endpoint's own sample's body, since the per-endpoint
samples disagree on the envelope (one echoes `"id": 1` as a number, one `url` reads "/api/fuota/tasks").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["ALLOWANCES", "Sample", "envelope_problems", "matching", "problems", "samples"]

FIXTURES = Path(__file__).resolve().parent / "samples"

# Where fuota or a simulator may differ from a sample, and why: (vendor, method, path, direction) → {
#   "extra": {key path: reason}, "missing": {key path: reason}}. A key path is dotted from the checked value
#   ("data[].createtime"; "" for the top object); method and path None is Milesight's chapter 1 envelope.
ALLOWANCES: dict[tuple[str, str | None, str | None, str], dict[str, dict[str, str]]] = {
    ("milesight", "GET", "/api/urdevices", "response"): {
        "missing": {
            "deviceResult[].nwksKey": "3.3's table names it nwkSKey, as the simulator does; fuota never reads it",
            "deviceResult[].payloadCodeID": "3.3's table names it payloadCodecID, as the simulator does",
        },
        "extra": {
            "deviceResult[].nwkSKey": "the name 3.3's table gives (the sample writes nwksKey)",
            "deviceResult[].payloadCodecID": "the name 3.3's table gives (the sample writes payloadCodeID)",
        },
    },
    ("milesight", "POST", "/api/fuota/task", "request"): {
        "extra": {
            "fuotaTask.tmpMcInfo.groupType": "6.1's table: required, 0 for class C; the sample leaves it out",
        },
    },
}


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample of a fixture (see tests.conformance.extract)."""

    vendor: str
    section: str
    title: str
    method: str | None
    path: str | None
    direction: str
    label: str
    json: Any

    def __str__(self) -> str:
        where = f"{self.method} {self.path}" if self.path else "envelope"
        label = f" ({self.label})" if self.label else ""
        return f"{self.vendor} {self.section} {where} {self.direction}{label}"


@cache
def samples(vendor: str) -> tuple[Sample, ...]:
    """Every sample of the vendor's fixture."""
    doc = json.loads((FIXTURES / f"{vendor}.json").read_text(encoding="utf-8"))
    keys = ("section", "title", "method", "path", "direction", "label", "json")
    return tuple(Sample(vendor, *(item[key] for key in keys)) for item in doc["samples"])


def matching(vendor: str, method: str | None, path: str | None, direction: str) -> list[Sample]:
    """The samples of one endpoint and direction (method and path None: Milesight's envelope)."""
    return [s for s in samples(vendor) if (s.method, s.path, s.direction) == (method, path, direction)]


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "list" if isinstance(value, list) else "object" if isinstance(value, dict) else type(value).__name__


def problems(
    actual: object,
    sample: object,
    allow: dict[str, dict[str, str]] | None = None,
    where: str = "",
    used: set[str] | None = None,
) -> list[str]:
    """What keeps `actual` from having the keys and types of `sample` (the rules above); [] when nothing. The key
    paths of `allow` that excused something are added to `used`."""
    allow, used = allow or {}, used if used is not None else set()
    if sample is None:
        return []
    if _kind(actual) != _kind(sample):
        return [f"{where or 'the value'}: {_kind(actual)} {actual!r:.60}, the sample has a {_kind(sample)}"]
    if isinstance(sample, dict):
        assert isinstance(actual, dict)
        found: list[str] = []
        for key, side, what in [(k, "missing", "missing") for k in sample.keys() - actual.keys()] + [
            (k, "extra", "not in the sample") for k in actual.keys() - sample.keys()
        ]:
            name = f"{where}.{key}".lstrip(".")
            if name in allow.get(side, {}):
                used.add(name)
            else:
                found.append(f"{name}: {what}")
        for key in sample.keys() & actual.keys():
            found += problems(actual[key], sample[key], allow, f"{where}.{key}".lstrip("."), used)
        return sorted(found)
    if isinstance(sample, list) and sample:
        assert isinstance(actual, list)
        found = []
        for item in actual:
            tries = [problems(item, choice, allow, f"{where}[]", used) for choice in sample]
            if all(tries):
                found += min(tries, key=len)
        return sorted(set(found))
    return []


def best(
    actual: object,
    candidates: list[Sample],
    allow: dict[str, dict[str, str]] | None = None,
    used: set[str] | None = None,
) -> list[str]:
    """The problems of `actual` against the sample it matches best, each prefixed with that sample."""
    if not candidates:
        return ["no sample to compare with"]
    tries = [(problems(actual, s.json, allow, used=used), s) for s in candidates]
    found, sample = min(tries, key=lambda pair: len(pair[0]))
    return [f"{sample}: {problem}" for problem in found]


def envelope_problems(vendor: str, direction: str, message: dict[str, Any]) -> list[str]:
    """Milesight: what keeps an ns-api message's envelope from chapter 1's format (its body is checked apart)."""
    (chapter1,) = matching(vendor, None, None, direction)
    allow = ALLOWANCES.get((vendor, None, None, direction), {})
    outer = {key: value for key, value in chapter1.json.items() if key != "body"}
    return [f"{chapter1}: {p}" for p in problems({k: v for k, v in message.items() if k != "body"}, outer, allow)]
