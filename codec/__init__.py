"""LoRaWAN TS004 fragmentation in numpy: plan, parity matrices, encoder, decoder, batched decodability, frames.

Byte-exact with the device stacks (LoRaMac-node, LoRa Basics Modem, ChirpStack). Depends on numpy only, plus
`cryptography` for the v2 MIC. `codec.frames` holds the command frames.
"""

import importlib
from typing import TYPE_CHECKING, Any

from codec.errors import CodecError, FragmentError, FrameError, IncompleteError, MICError, PlanError
from codec.plan import MAX_COUNTER, FragPlan, Rounding, plan, redundancy_for

if TYPE_CHECKING:
    from codec import frames
    from codec.decodable import decodable
    from codec.decoder import Decoder
    from codec.encoder import encode
    from codec.matrix import ParityMatrix, parity_matrix

__all__ = [
    "MAX_COUNTER",
    "CodecError",
    "Decoder",
    "FragPlan",
    "FragmentError",
    "FrameError",
    "IncompleteError",
    "MICError",
    "ParityMatrix",
    "PlanError",
    "Rounding",
    "decodable",
    "encode",
    "frames",
    "parity_matrix",
    "plan",
    "redundancy_for",
]


# What numpy (≈ 100 ms to import) or `cryptography` serve is loaded on first use (PEP 562): planning a session, which
# every `fuota` command that reads a configuration does, needs neither.
_LAZY = {
    "decodable": "codec.decodable",
    "Decoder": "codec.decoder",
    "encode": "codec.encoder",
    "ParityMatrix": "codec.matrix",
    "parity_matrix": "codec.matrix",
}


def __getattr__(name: str) -> Any:
    """The numpy parts (encoder, decoder, matrices, decodability) and `codec.frames` on first use."""
    if name == "frames":
        return importlib.import_module("codec.frames")
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'codec' has no attribute {name!r}")
