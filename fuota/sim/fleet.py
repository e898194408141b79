"""A fleet of virtual devices that really receive and decode TS004 fragments.

Each `VirtualDevice` has its own lossy channel (a loss probability and a numpy Generator seeded from the fleet's
seed and its EUI, so adding a device never changes the others) and, once a fragmentation session starts, a real
`codec.Decoder`. What it reports (fragments received, fragments missing, image rebuilt) is what it really has.

A `Broadcast` is one fragmentation session multicast to many devices. When it starts, every device draws
which of the session's fragments its channel will drop, so the outcome does not depend on how often a client
polls: sending fragments 1..n in one batch or one by one leaves every decoder in the same state. Sending a
batch costs one `push_many` per device still decoding. Each device counts the sessions set up with it and the
fragments multicast to it (`sessions`, `fragments_sent`), so that a test can tell who was sent the image, and how
often.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

import codec

__all__ = ["Broadcast", "Fleet", "Session", "VirtualDevice", "fleet_euis"]


def fleet_euis(n: int, seed: int = 0) -> list[str]:
    """`n` distinct, deterministic EUI-64s as 16 lower-case hex digits."""
    rng = np.random.default_rng(seed)
    euis: dict[str, None] = {}  # a dict keeps the drawing order, a set would not
    while len(euis) < n:
        for raw in rng.integers(0, 2**64, size=n - len(euis), dtype=np.uint64, endpoint=False).tolist():
            euis.setdefault(f"{raw:016x}")
    return list(euis)


@dataclass(eq=False)
class Session:
    """One device's fragmentation session: its decoder and what it has received so far."""

    decoder: codec.Decoder
    size: int  # payload bytes, padding excluded
    received: int = 0  # distinct fragments that reached the device, coded ones included
    _verdict: bool | None = field(default=None, repr=False)  # a complete decoder's data never changes again

    @property
    def missing(self) -> int:
        """Uncoded fragments the device still cannot rebuild."""
        return self.decoder.missing

    @property
    def complete(self) -> bool:
        """True once the decoder has every uncoded fragment."""
        return self.decoder.complete

    def rebuilt(self, image: bytes) -> bool:
        """True when the decoder is complete and its data, padding cut off, is exactly `image`."""
        if not self.decoder.complete:
            return False
        if self._verdict is None:
            self._verdict = self.decoder.result()[: self.size] == image
        return self._verdict


@dataclass(eq=False)
class VirtualDevice:
    """A Class C device: its EUI, its channel's loss probability, whether it ever joins a multicast group."""

    dev_eui: str
    loss: float = 0.0
    joins: bool = True
    rng: np.random.Generator = field(default_factory=np.random.default_rng, repr=False)
    session: Session | None = field(default=None, repr=False)
    sessions: int = 0  # fragmentation sessions set up with it: how many times the image was sent to it
    fragments_sent: int = 0  # fragments multicast to it over all its sessions, heard or not

    def __post_init__(self) -> None:
        if not 0.0 <= self.loss <= 1.0:
            raise ValueError(f"loss of {self.dev_eui} = {self.loss}: give a probability in 0..1")

    @property
    def name(self) -> str:
        """The device name the network server shows."""
        return f"node_{self.dev_eui[-6:]}"

    @property
    def decoder(self) -> codec.Decoder | None:
        """The decoder of the latest fragmentation session, None before any."""
        return self.session.decoder if self.session else None

    def start_session(self, plan: codec.FragPlan) -> Session:
        """Begin a fragmentation session of `plan` (FragSessionSetupReq): a fresh decoder."""
        self.sessions += 1
        self.session = Session(codec.Decoder(plan.nb_frag, plan.frag_size, plan.version), plan.size)
        return self.session

    def channel(self, count: int) -> np.ndarray:
        """Which of `count` multicast fragments reach the device, as a bool array.

        A device that never joined has no multicast keys: it hears none of them.
        """
        if not self.joins:
            return np.zeros(count, bool)
        return self.rng.random(count) >= self.loss


class Fleet(Mapping[str, VirtualDevice]):
    """The registered devices, by lower-case EUI."""

    def __init__(
        self,
        euis: Iterable[str] = (),
        *,
        loss: float | Mapping[str, float] = 0.0,
        never_join: Iterable[str] = (),
        seed: int = 0,
    ) -> None:
        self.seed = seed
        self._loss = loss if isinstance(loss, float | int) else {k.lower(): v for k, v in loss.items()}
        self._never_join = {eui.lower() for eui in never_join}
        self._devices: dict[str, VirtualDevice] = {}
        for eui in euis:
            self.add(eui)

    def add(self, dev_eui: str) -> VirtualDevice:
        """Register `dev_eui` (any case) with the fleet's loss and join settings; return it (or the existing one)."""
        key = dev_eui.lower()
        if key not in self._devices:
            loss = self._loss if isinstance(self._loss, float | int) else self._loss.get(key, 0.0)
            rng = np.random.default_rng([self.seed, int(key, 16) >> 32, int(key, 16) & 0xFFFFFFFF])
            self._devices[key] = VirtualDevice(key, float(loss), key not in self._never_join, rng)
        return self._devices[key]

    def __getitem__(self, dev_eui: str) -> VirtualDevice:
        return self._devices[dev_eui.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._devices)

    def __len__(self) -> int:
        return len(self._devices)


class Broadcast:
    """One fragmentation session multicast to `devices`: `fragments` (nb_frag + redundancy rows) sent in order."""

    def __init__(self, devices: list[VirtualDevice], plan: codec.FragPlan, fragments: np.ndarray) -> None:
        if fragments.shape != (plan.total, plan.frag_size):
            raise ValueError(f"fragments are {fragments.shape}; plan wants ({plan.total}, {plan.frag_size})")
        self.plan = plan
        self.fragments = fragments
        self.devices = devices
        self.sessions = {device.dev_eui: device.start_session(plan) for device in devices}
        self._order = list(self.sessions.values())
        # Stacked explicitly so that a session nobody joined is a (0, total) array, not a shapeless one.
        self._heard = np.zeros((len(devices), plan.total), bool)
        for row, device in enumerate(devices):
            self._heard[row] = device.channel(plan.total)
        self.sent = 0

    def send_until(self, count: int) -> None:
        """Send fragments up to counter `count` (those not sent yet, in counter order) to every device."""
        count = min(count, self.plan.total)
        if count <= self.sent:
            return
        start, self.sent = self.sent, count
        for device in self.devices:
            device.fragments_sent += count - start
        counters = np.arange(start + 1, count + 1, dtype=np.int64)
        heard = self._heard[:, start:count]
        got = heard.sum(axis=1)
        for index in np.flatnonzero(got).tolist():
            session = self._order[index]
            session.received += int(got[index])
            if not session.complete:
                mask = heard[index]
                session.decoder.push_many(counters[mask], self.fragments[start:count][mask])
