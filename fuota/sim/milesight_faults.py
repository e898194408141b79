"""Garbled answers of the Milesight simulator: a share of the gateways' answers broken the ways a firmware bug breaks
them, set at construction or while serving, drawn from the simulator's seed.

    not_json         the MQTT payload is not JSON (cut short): no client can tell whose answer it was, so the
                     request it answered times out
    body_not_object  the envelope's body is a string instead of an object
    code_not_number  the body's code is a word ("OK") instead of a number
    wrong_types      a list answer's list is a string, its total a list, its items lose their identifying field or
                     are strings; an answer without a list gets its first number as a list

The gateway carries the request out before its answer is garbled, as a real one would: a client must look a task
up before creating it again. `gateways` limits the garbling to those gateways' answers and `calls` to the next that
many of their answers; once they are spent the faults are cleared. The simulator's model is never touched.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["GARBLES", "AnswerFaults", "Garbler", "garble"]

GARBLES = ("not_json", "body_not_object", "code_not_number", "wrong_types")

# The field identifying each item of a list answer (spec 3.3, 6.2, 6.6, 6.7): what a truncated item loses first.
_ITEM_KEYS = {"deviceResult": "devEUI", "tasks": "id", "devices": "devEui", "maxPayloadSizeMap": "dr"}
_TOTALS = {"deviceResult": "devTotalCount", "tasks": "total", "devices": "total"}


@dataclass(frozen=True)
class AnswerFaults:
    """A share `malformed_rate` of the answers garbled in one of `kinds` (see the module docstring)."""

    malformed_rate: float = 0.0
    kinds: Collection[str] = GARBLES
    gateways: Collection[str] | None = None
    calls: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.malformed_rate <= 1.0:
            raise ValueError(f"malformed_rate = {self.malformed_rate}: a share of the answers, 0..1")
        unknown = sorted(set(self.kinds) - set(GARBLES))
        if unknown or not self.kinds:
            raise ValueError(f"kinds = {sorted(self.kinds)}: give some of {', '.join(GARBLES)}")
        if self.calls is not None and self.calls < 1:
            raise ValueError(f"calls = {self.calls}: a storm lasts at least 1 answer (None: until changed)")
        object.__setattr__(self, "kinds", tuple(kind for kind in GARBLES if kind in self.kinds))
        if self.gateways is not None:
            object.__setattr__(self, "gateways", frozenset(gw.lower() for gw in self.gateways))


class Garbler:
    """The simulator's current AnswerFaults, thread-safe and changeable at run time; garbles answers as they leave."""

    def __init__(self, faults: AnswerFaults, seed: int) -> None:
        self._lock = threading.Lock()
        self._rng = np.random.default_rng([seed, 4])
        self._faults, self._left = faults, faults.calls
        self._garbled: Counter[str] = Counter()

    @property
    def current(self) -> AnswerFaults:
        """The faults in force now (AnswerFaults() once a bounded storm is spent)."""
        with self._lock:
            return self._faults

    @property
    def garbled(self) -> Counter[str]:
        """A snapshot of the answers garbled so far, by kind."""
        with self._lock:
            return Counter(self._garbled)

    def set(self, faults: AnswerFaults | None = None, /, **changes: object) -> AnswerFaults:
        """Replace the faults, or change some fields of the current ones; a bounded storm starts counting anew."""
        with self._lock:
            new = faults if faults is not None else dataclasses.replace(self._faults, **changes)
            self._faults, self._left = new, new.calls
        return new

    def clear(self) -> None:
        """Garble nothing any more."""
        self.set(AnswerFaults())

    def payload(self, gateway: str, answer: Mapping[str, object]) -> bytes:
        """The MQTT payload carrying `answer` from `gateway`, garbled or not as the faults in force draw it."""
        with self._lock:
            faults = self._faults
            if not faults.malformed_rate or (faults.gateways is not None and gateway not in faults.gateways):
                return json.dumps(answer).encode()
            if self._left is not None:
                self._left -= 1
                if self._left == 0:  # this answer is the storm's last
                    self._faults, self._left = AnswerFaults(), None
            if self._rng.random() >= faults.malformed_rate:
                return json.dumps(answer).encode()
            kind = faults.kinds[int(self._rng.integers(len(faults.kinds)))]
            variant = int(self._rng.integers(1 << 30))
            self._garbled[kind] += 1
        return garble(answer, kind, variant)


def garble(answer: Mapping[str, object], kind: str, variant: int = 0) -> bytes:
    """`answer` (chapter 1's envelope) broken in the way `kind` names; `variant` picks among a kind's ways."""
    if kind == "not_json":
        text = json.dumps(answer)
        return text[: len(text) // 2].encode()
    doc = dict(answer)
    body = doc.get("body")
    if kind == "body_not_object" or not isinstance(body, dict):
        doc["body"] = "<error>internal</error>"
    elif kind == "code_not_number":
        doc["body"] = {**body, "code": "OK", "error": ""}
    else:
        doc["body"] = _wrong_types(body, variant)
    return json.dumps(doc).encode()


def _wrong_types(body: dict[str, object], variant: int) -> dict[str, object]:
    listed = next((key for key in _ITEM_KEYS if isinstance(body.get(key), list)), None)
    if listed is None:  # e.g. a create's {"id": 3}: its number as a list
        number = next((key for key, value in body.items() if isinstance(value, int)), None)
        return {**body, number: [body[number]]} if number else {**body, "code": "OK"}
    items: list = body[listed]  # type: ignore[assignment]
    choices = ["list_text"] + (["total_list"] if listed in _TOTALS else [])
    choices += ["item_key", "items_text"] if items else []
    match choices[variant % len(choices)]:
        case "list_text":
            return {**body, listed: "[]"}
        case "total_list":
            return {**body, _TOTALS[listed]: [body.get(_TOTALS[listed])]}
        case "item_key":
            return {**body, listed: [{k: v for k, v in item.items() if k != _ITEM_KEYS[listed]} for item in items]}
        case _:
            return {**body, listed: [str(item) for item in items]}
