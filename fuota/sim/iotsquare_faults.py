"""Faults of the IoTSquare simulator: storms of errors, slow answers, dropped connections, answers that break the spec.

`Faults` says what to inject; `FaultInjector` holds the current faults behind a lock, lets a test or the CLI change
them while the simulator serves, and draws each call's fate from its own generator seeded from the simulator's
seed, so that a run is reproducible.

A call meets at most one of the exclusive faults, drawn in this order from one uniform number (their shares add up
to at most 1), and whether the simulator acted is part of the fault:

    error_rate      HTTP 500, 502 or 503 (a proxy's page), before the simulator acts          nothing happened
    busy_rate       1001 System Busy, before the simulator acts                               nothing happened
    drop_rate       the simulator acts, sends the headers and half the body, then closes      done, answer lost
    malformed_rate  the simulator acts, answers 200 with a body that is not the JSON envelope done, answer garbled
    wrong_rate      the simulator acts, answers an envelope whose fields break the spec       done, answer garbled

A real server may carry a request out and lose the answer: a client must look a task up before creating it again
(the simulator also refuses a second task of the same name on a group, 16001). Independently of those, `delay`
seconds pass before every answer and `slow[endpoint]` more before that endpoint's; a slow call acts once its delay
is over, whether or not the client still waits, as a loaded server does.

Apart from those, `refuse_msg` refuses every call (before the simulator acts) with 1007 Parameter Error and that
text as its `msg`: a hostile back end's words (Rich markup, terminal escapes, the token echoed) for the client to
make inert.

A storm can be bounded: `endpoints` limits every fault to those paths under /openapi/ (e.g. {"fuota/status"}),
`calls` to the next that many calls of those paths; once they are spent the faults are cleared and the simulator
answers well again. Faults only ever change answers, never the simulator's model.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import threading
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Fate", "FaultInjector", "Faults", "Verdict", "error_answer", "malformed_body", "wrong_types"]

# The field that identifies each item of a list answer, or the status: what a server dropping fields loses first.
_KEY_FIELDS = {
    "mcgroup/list": "mcEUI",
    "mcdevice/list": "devEUI",
    "fuota/list": "fdID",
    "fuota/device/list": "devEUI",
    "fuota/status": "state",
}


class Fate(enum.StrEnum):
    """The exclusive fault a call meets, in the order they are drawn."""

    ERROR = "error"
    BUSY = "busy"
    DROP = "drop"
    MALFORMED = "malformed"
    WRONG = "wrong"


@dataclass(frozen=True)
class Faults:
    """What the simulator injects; rates are shares of the calls, durations seconds (see the module docstring)."""

    error_rate: float = 0.0
    busy_rate: float = 0.0
    drop_rate: float = 0.0
    malformed_rate: float = 0.0
    wrong_rate: float = 0.0
    delay: float = 0.0
    slow: Mapping[str, float] = field(default_factory=dict)
    endpoints: Collection[str] | None = None
    calls: int | None = None
    refuse_msg: str | None = None

    def __post_init__(self) -> None:
        for fate in Fate:
            rate = self.rate(fate)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{fate}_rate = {rate}: a share of the calls, 0..1")
        if sum(self.rate(fate) for fate in Fate) > 1.0 + 1e-9:
            shares = ", ".join(f"{fate}_rate = {self.rate(fate)}" for fate in Fate if self.rate(fate))
            raise ValueError(f"{shares}: a call meets one fault at most, so the rates must add up to 1 or less")
        if self.delay < 0 or any(seconds < 0 for seconds in self.slow.values()):
            raise ValueError(f"delay = {self.delay}, slow = {dict(self.slow)}: durations in seconds, ≥ 0")
        if self.calls is not None and self.calls < 1:
            raise ValueError(f"calls = {self.calls}: a storm lasts at least 1 call (None: until changed)")
        object.__setattr__(self, "slow", dict(self.slow))
        if self.endpoints is not None:
            object.__setattr__(self, "endpoints", frozenset(self.endpoints))

    def rate(self, fate: Fate) -> float:
        """The share of calls meeting `fate`."""
        return float(getattr(self, f"{fate}_rate"))

    @property
    def active(self) -> bool:
        """Whether anything is injected at all."""
        rates = any(self.rate(fate) for fate in Fate)
        return bool(self.delay or any(self.slow.values()) or rates or self.refuse_msg is not None)

    def fate(self, draw: float) -> Fate | None:
        """The fault of a call whose uniform number is `draw`, or None."""
        bound = 0.0
        for fate in Fate:
            bound += self.rate(fate)
            if draw < bound:
                return fate
        return None


@dataclass(frozen=True, slots=True)
class Verdict:
    """One call's fate: its exclusive fault (or None), the seconds to wait first, a number picking the variant, and
    the `msg` of a refusal (Faults.refuse_msg) or None."""

    fate: Fate | None = None
    delay: float = 0.0
    variant: int = 0
    refuse_msg: str | None = None


class FaultInjector:
    """The simulator's current faults, thread-safe and changeable at run time; draws every call's Verdict."""

    def __init__(self, faults: Faults, seed: int, endpoints: Collection[str]) -> None:
        self._known = frozenset(endpoints)
        self._lock = threading.Lock()
        self._rng = np.random.default_rng([seed, 3])
        self._injected: Counter[tuple[str, str]] = Counter()
        self._faults, self._left = self._checked(faults), faults.calls

    @property
    def current(self) -> Faults:
        """The faults in force now (Faults() once a bounded storm is spent)."""
        with self._lock:
            return self._faults

    @property
    def injected(self) -> Counter[tuple[str, str]]:
        """A snapshot of the faults injected so far by (kind, endpoint); kinds are Fate's values, "slow", "refuse"."""
        with self._lock:
            return Counter(self._injected)

    def set(self, faults: Faults | None = None, /, **changes: object) -> Faults:
        """Replace the faults, or change some fields of the current ones; a bounded storm starts counting anew."""
        with self._lock:
            new = self._checked(faults if faults is not None else dataclasses.replace(self._faults, **changes))
            self._faults, self._left = new, new.calls
        return new

    def clear(self) -> None:
        """Stop injecting anything."""
        self.set(Faults())

    def draw(self, endpoint: str) -> Verdict:
        """The fate of one call of `endpoint` (a path under /openapi/); counts it against a bounded storm."""
        with self._lock:
            faults = self._faults
            if not faults.active or (faults.endpoints is not None and endpoint not in faults.endpoints):
                return Verdict()
            if self._left is not None:
                self._left -= 1
                if self._left == 0:  # this call is the storm's last
                    self._faults, self._left = Faults(), None
            fate = faults.fate(float(self._rng.random()))
            variant = int(self._rng.integers(1 << 30))
            slow = faults.slow.get(endpoint, 0.0)
            if fate is not None:
                self._injected[fate.value, endpoint] += 1
            if slow:
                self._injected["slow", endpoint] += 1
            if faults.refuse_msg is not None:
                self._injected["refuse", endpoint] += 1
        return Verdict(fate, faults.delay + slow, variant, faults.refuse_msg)

    def _checked(self, faults: Faults) -> Faults:
        named = set(faults.slow) | set(faults.endpoints or ())
        unknown = sorted(named - self._known)
        if unknown:
            raise ValueError(f"endpoint {unknown[0]!r} is not simulated: one of {', '.join(sorted(self._known))}")
        return faults


def error_answer(variant: int) -> tuple[int, bytes]:
    """An HTTP 5xx and its body, as a failing server (500, its own envelope) or a proxy before it (502, 503) sends."""
    status = (500, 502, 503)[variant % 3]
    if status == 500:
        return status, b'{"code": 1008, "msg": "Query Error"}'
    reason = "Bad Gateway" if status == 502 else "Service Unavailable"
    return status, f"<html><body><h1>{status} {reason}</h1></body></html>".encode()


def malformed_body(envelope: Mapping[str, object], variant: int) -> bytes:
    """A 200 body that is not the JSON envelope: cut short, a proxy's page, empty, or JSON that is not an object."""
    text = json.dumps(envelope)
    choices = (
        text[: max(1, len(text) // 2)],
        "<html><body>Service temporarily unavailable</body></html>",
        "",
        json.dumps([envelope]),
    )
    return choices[variant % len(choices)].encode()


def wrong_types(endpoint: str, envelope: Mapping[str, object], variant: int) -> dict[str, object]:
    """The envelope with one field breaking the spec: data a string or a list, a number as a list, the items'
    identifying field missing, the items strings, or the code not a number or missing."""
    doc = dict(envelope)
    data, key = doc.get("data"), _KEY_FIELDS.get(endpoint)
    if isinstance(data, list):
        choices = ["data_text", "amount_list"] + (["item_key", "items_text"] if data and key else [])
    elif isinstance(data, dict):
        choices = ["data_text", "data_list"] + (["item_key"] if key in data else [])
    else:
        choices = ["code_text", "code_missing"]
    match choices[variant % len(choices)]:
        case "data_text":
            doc["data"] = "[object Object]"
        case "data_list":
            doc["data"] = [data]
        case "amount_list":
            doc["amount"] = [doc.get("amount", 0)]
        case "item_key" if isinstance(data, list):
            doc["data"] = [{k: v for k, v in item.items() if k != key} for item in data]
        case "item_key" if isinstance(data, dict):
            doc["data"] = {k: v for k, v in data.items() if k != key}
        case "items_text":
            doc["data"] = [str(item) for item in data]  # type: ignore[union-attr]
        case "code_text":
            doc["code"] = "success"
        case _:
            del doc["code"]
    return doc
