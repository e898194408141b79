"""LoRaWAN TS004 fragmentation in numpy: plan, parity matrices, encoder, decoder, batched decodability, frames.

Byte-exact with the device stacks (LoRaMac-node, LoRa Basics Modem, ChirpStack). Depends on numpy only, plus
`cryptography` for the v2 MIC. `codec.frames` holds the command frames.
"""

import importlib
from types import ModuleType

from codec.decodable import decodable
from codec.decoder import Decoder
from codec.encoder import encode
from codec.errors import CodecError, FragmentError, FrameError, IncompleteError, MICError, PlanError
from codec.matrix import ParityMatrix, parity_matrix
from codec.plan import MAX_COUNTER, FragPlan, Rounding, plan, redundancy_for

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


def __getattr__(name: str) -> ModuleType:
    """`codec.frames` on first use: its dataclasses and `cryptography` cost a fresh process ≈ 30 ms to import,
    which encode and decode do not need (PEP 562)."""
    if name == "frames":
        return importlib.import_module("codec.frames")
    raise AttributeError(f"module 'codec' has no attribute {name!r}")
