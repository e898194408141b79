"""The fragmentation plan: how a payload is cut into TS004 fragments and how many coded ones follow.

nb_frag = ceil(size / frag_size); the last uncoded fragment is zero-padded to frag_size. The redundancy count R is
the server's choice and is never signalled to the device. Systems turn a redundancy percentage into R
differently, so both readings are offered, named after who uses them:

- ``Rounding.CHIRPSTACK``: R = ceil(nb_frag · percent / 100) (ChirpStack's FUOTA flow);
- ``Rounding.IOTSQUARE``: R = floor(nb_frag · percent / 100) (IoTSquare's own sample, section 9.3 of its spec:
  13737 bytes at 30 % → nbFrag 287, padding 39, redundancy 86).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from codec.errors import PlanError, out_of_range

__all__ = ["MAX_COUNTER", "MAX_FRAG_SIZE", "VERSIONS", "FragPlan", "Rounding", "plan", "redundancy_for"]

MAX_COUNTER = 16383
"""DataFragment counters are 14 bits and start at 1, so nb_frag + redundancy ≤ 16383 (TS004-NOTES §1)."""
MAX_FRAG_SIZE = 255
"""FragSize is one byte in FragSessionSetupReq."""
VERSIONS = (1, 2)
"""TS004 v1.0.0 and v2.0.0, as PackageVersionAns reports them."""


class Rounding(enum.Enum):
    """How a redundancy percentage becomes a count of coded fragments."""

    CHIRPSTACK = "ceil"
    IOTSQUARE = "floor"


def _exact(percent: float | int | str | Decimal | Fraction) -> Fraction:
    # Through str() so that 0.3 means three tenths, not the binary float nearest to it.
    try:
        value = Fraction(str(percent)) if isinstance(percent, float) else Fraction(percent)
    except (TypeError, ValueError) as exc:
        raise PlanError(f"percent = {percent!r} is not a number; give e.g. 30 for 30 %") from exc
    if value < 0:
        raise out_of_range(PlanError, "percent", percent, "≥ 0", "give e.g. 30 for 30 %")
    return value


def redundancy_for(
    nb_frag: int, percent: float | int | str | Decimal | Fraction, rounding: Rounding = Rounding.CHIRPSTACK
) -> int:
    """Return the number of coded fragments for `percent` % of `nb_frag`, rounded as `rounding` says."""
    exact = nb_frag * _exact(percent) / 100
    return math.ceil(exact) if rounding is Rounding.CHIRPSTACK else math.floor(exact)


@dataclass(frozen=True, slots=True)
class FragPlan:
    """A validated TS004 fragmentation plan.

    Counters 1..nb_frag carry the uncoded fragments, nb_frag+1..nb_frag+redundancy the coded ones.
    """

    nb_frag: int
    padding: int
    redundancy: int
    frag_size: int
    version: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.frag_size <= MAX_FRAG_SIZE:
            raise out_of_range(PlanError, "frag_size", self.frag_size, f"1..{MAX_FRAG_SIZE} bytes")
        if not 1 <= self.nb_frag <= MAX_COUNTER:
            raise out_of_range(
                PlanError, "nb_frag", self.nb_frag, f"1..{MAX_COUNTER}", "use larger fragments for this image"
            )
        if not 0 <= self.padding < self.frag_size:
            raise out_of_range(PlanError, "padding", self.padding, f"0..{self.frag_size - 1} (< frag_size)")
        if self.redundancy < 0:
            raise out_of_range(PlanError, "redundancy", self.redundancy, "≥ 0")
        if self.nb_frag + self.redundancy > MAX_COUNTER:
            raise out_of_range(
                PlanError,
                "nb_frag + redundancy",
                self.nb_frag + self.redundancy,
                f"≤ {MAX_COUNTER} (14-bit fragment counter)",
                f"lower the redundancy to at most {MAX_COUNTER - self.nb_frag} or use larger fragments",
            )
        if self.version not in VERSIONS:
            raise out_of_range(PlanError, "version", self.version, "1 (TS004 v1.0.0) or 2 (v2.0.0)")

    @property
    def size(self) -> int:
        """The payload length in bytes, padding excluded."""
        return self.nb_frag * self.frag_size - self.padding

    @property
    def total(self) -> int:
        """Fragments sent: uncoded plus coded, i.e. the last DataFragment counter."""
        return self.nb_frag + self.redundancy


def plan(
    size: int,
    frag_size: int,
    *,
    redundancy: int | None = None,
    percent: float | int | str | Decimal | Fraction | None = None,
    rounding: Rounding = Rounding.CHIRPSTACK,
    version: int = 1,
) -> FragPlan:
    """Plan a payload of `size` bytes in fragments of `frag_size` bytes.

    Give either `redundancy` (a count of coded fragments) or `percent` (of nb_frag, rounded by `rounding`).
    Raises PlanError naming the field, the value and the allowed range when the plan breaks TS004's limits.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise out_of_range(PlanError, "size", size, "an integer > 0 bytes", "the firmware image is empty")
    if not isinstance(frag_size, int) or not 1 <= frag_size <= MAX_FRAG_SIZE:
        raise out_of_range(PlanError, "frag_size", frag_size, f"1..{MAX_FRAG_SIZE} bytes")
    if (redundancy is None) == (percent is None):
        raise PlanError("give exactly one of redundancy (a count) or percent (e.g. 30 for 30 %)")
    nb_frag = -(-size // frag_size)
    count = redundancy_for(nb_frag, percent, rounding) if percent is not None else int(redundancy or 0)
    return FragPlan(nb_frag, nb_frag * frag_size - size, count, frag_size, version)
