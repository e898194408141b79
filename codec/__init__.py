"""LoRaWAN TS004 fragmentation in numpy: plan, parity matrices, encoder, decoder, batched decodability, frames.

Byte-exact with the device stacks (LoRaMac-node, LoRa Basics Modem, ChirpStack). Depends on numpy only, plus
`cryptography` for the v2 MIC.
"""

from codec.errors import CodecError, FragmentError, FrameError, IncompleteError, MICError, PlanError

__all__ = [
    "CodecError",
    "FragmentError",
    "FrameError",
    "IncompleteError",
    "MICError",
    "PlanError",
]
