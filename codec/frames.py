"""TS004 (Fragmented Data Block Transport) command frames, v1.0.0 and v2.0.0.

Each command is a frozen dataclass that validates its fields on construction, `encode()`s to one command (CID
first) and `parse()`s such bytes back. `parse_downlink`/`parse_uplink` pick the class from the CID;
`parse_downlink_all`/`parse_uplink_all` split a FRMPayload that packs several commands. Commands travel on
FPort `FPORT` (201 by default) under package identifier 3; multi-byte fields are little-endian.

Layouts are tables of bit ranges over the command payload read as one little-endian integer (codec.framing), so
each table reads like the one in the spec (TS004-NOTES.md §3).

Where v1.0.0 and v2.0.0 differ (FragSessionSetupReq, FragSessionSetupAns, FragSessionStatusAns) the class has
a `version` field and `parse` takes `version`; v2-only fields must keep their default in v1.
FragDataBlockReceivedReq/Ans exist in v2.0.0 only. RFU bits are written as zero and ignored when parsing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Self, get_args

from codec.errors import FrameError, MICError, out_of_range
from codec.framing import Bits, Command, Versioned, check_version
from codec.mic import data_block_int_key, data_block_mic

__all__ = [
    "FPORT",
    "PACKAGE_IDENTIFIER",
    "DataFragment",
    "DownlinkCommand",
    "FragDataBlockReceivedAns",
    "FragDataBlockReceivedReq",
    "FragSessionDeleteAns",
    "FragSessionDeleteReq",
    "FragSessionSetupAns",
    "FragSessionSetupReq",
    "FragSessionStatusAns",
    "FragSessionStatusReq",
    "PackageVersionAns",
    "PackageVersionReq",
    "UplinkCommand",
    "data_block_int_key",
    "data_block_mic",
    "parse_downlink",
    "parse_downlink_all",
    "parse_uplink",
    "parse_uplink_all",
]

FPORT = 201
PACKAGE_IDENTIFIER = 3


_FRAG_INDEX_LOW = Bits("frag_index", 0, 2)  # bits 0-1 in DeleteReq/Ans and FragDataBlockReceivedReq/Ans


@dataclass(frozen=True)
class PackageVersionReq(Command):
    """Downlink 0x00: asks which TS004 version the device runs."""

    CID = 0x00
    _V1 = (0, ())


@dataclass(frozen=True)
class PackageVersionAns(Command):
    """Uplink 0x00: package identifier 3 and the TS004 version (1 = v1.0.0, 2 = v2.0.0)."""

    package_version: int
    package_identifier: int = PACKAGE_IDENTIFIER
    CID = 0x00
    _V1 = (2, (Bits("package_identifier", 0, 8, lo=3, hi=3), Bits("package_version", 8, 8, lo=1, hi=2)))


@dataclass(frozen=True)
class FragSessionStatusReq(Command):
    """Downlink 0x01: asks for the status of session `frag_index` (all devices answer if `participants`)."""

    frag_index: int
    participants: bool = False
    CID = 0x01
    _V1 = (1, (Bits("participants", 0, 1, bool), Bits("frag_index", 1, 2)))


@dataclass(frozen=True)
class FragSessionStatusAns(Versioned):
    """Uplink 0x01: a device's progress; v2 moves Status first and adds the MIC/session error bits.

    The counters are advisory: device stacks fill them differently (TS004-NOTES.md §3).
    """

    frag_index: int
    nb_frag_received: int
    missing_frag: int
    not_enough_memory: bool = False
    mic_error: bool = False
    session_does_not_exist: bool = False
    version: int = 1
    CID = 0x01
    _RECEIVED = (Bits("nb_frag_received", 0, 14), Bits("frag_index", 14, 2), Bits("missing_frag", 16, 8))
    _V1 = (4, (*_RECEIVED, Bits("not_enough_memory", 24, 1, bool)))
    _V2 = (4, (
        Bits("not_enough_memory", 0, 1, bool),
        Bits("mic_error", 1, 1, bool),
        Bits("session_does_not_exist", 2, 1, bool),
        *(dataclasses.replace(f, shift=f.shift + 8) for f in _RECEIVED),
    ))  # fmt: skip
    _V2_ONLY = ("mic_error", "session_does_not_exist")


@dataclass(frozen=True)
class FragSessionSetupReq(Versioned):
    """Downlink 0x02: opens session `frag_index` (10-byte payload in v1, 16 in v2 with SessionCnt and MIC).

    `descriptor` is 4 opaque bytes; an int is accepted and stored little-endian, as LoRaMac-node reads it.
    Use `signed()` to build a v2 request with its MIC and `verify_mic()` to check one.
    """

    frag_index: int
    mc_group_bit_mask: int
    nb_frag: int
    frag_size: int
    padding: int = 0
    descriptor: bytes = bytes(4)
    block_ack_delay: int = 0
    frag_algo: int = 0
    ack_reception: bool = False
    session_cnt: int | None = None
    mic: bytes | None = None
    version: int = 1
    CID = 0x02
    _V1 = (10, (
        Bits("mc_group_bit_mask", 0, 4),
        Bits("frag_index", 4, 2),
        Bits("nb_frag", 8, 16, lo=1, hi=16383),  # 16 bits on the wire, but N is a 14-bit counter
        Bits("frag_size", 24, 8, lo=1),
        Bits("block_ack_delay", 32, 3),
        Bits("frag_algo", 35, 3),  # 0 = the TS004 FEC; other values are the device's to refuse
        Bits("padding", 40, 8),
        Bits("descriptor", 48, 32, bytes),
    ))  # fmt: skip
    _V2 = (16, (*_V1[1], Bits("ack_reception", 38, 1, bool), Bits("session_cnt", 80, 16),
                Bits("mic", 96, 32, bytes)))  # fmt: skip
    _V2_ONLY = ("ack_reception", "session_cnt", "mic")

    def __post_init__(self) -> None:
        d = self.descriptor
        if isinstance(d, bytearray | memoryview) or (type(d) is int and 0 <= d < 1 << 32):
            object.__setattr__(self, "descriptor", d.to_bytes(4, "little") if type(d) is int else bytes(d))
        super().__post_init__()
        if self.padding >= self.frag_size:
            allowed = f"0..{self.frag_size - 1}"
            raise out_of_range(FrameError, "padding", self.padding, allowed, "below frag_size")

    @property
    def data_length(self) -> int:
        """Length of the unpadded data block: NbFrag·FragSize − Padding."""
        return self.nb_frag * self.frag_size - self.padding

    @classmethod
    def signed(
        cls,
        app_key: bytes,
        data: bytes,
        *,
        frag_index: int,
        mc_group_bit_mask: int,
        frag_size: int,
        session_cnt: int,
        **control: Any,
    ) -> FragSessionSetupReq:
        """Build a v2 request for the unpadded block `data`: NbFrag, Padding and the MIC are derived from it.

        `control` takes the other fields: descriptor, block_ack_delay, frag_algo, ack_reception.
        """
        if isinstance(frag_size, bool) or not isinstance(frag_size, int) or not 1 <= frag_size <= 255:
            raise out_of_range(FrameError, "frag_size", frag_size, "1..255")
        nb_frag = -(-len(data) // frag_size)
        padding = nb_frag * frag_size - len(data)
        unsigned = cls(frag_index, mc_group_bit_mask, nb_frag, frag_size, padding, session_cnt=session_cnt,
                       mic=bytes(4), version=2, **control)  # fmt: skip
        return dataclasses.replace(unsigned, mic=unsigned.compute_mic(app_key, data))

    def compute_mic(self, app_key: bytes, data: bytes) -> bytes:
        """Return the v2 MIC of the unpadded block `data` for this request's session fields."""
        if self.session_cnt is None:
            raise FrameError("FragSessionSetupReq v1.0.0 has no MIC: use version=2 and a session_cnt")
        if len(data) != self.data_length:
            raise out_of_range(MICError, "len(data)", len(data), str(self.data_length),
                               "the unpadded block is NbFrag·FragSize − Padding bytes")  # fmt: skip
        key = data_block_int_key(app_key)
        return data_block_mic(key, self.session_cnt, self.frag_index, self.descriptor, data)

    def verify_mic(self, app_key: bytes, data: bytes) -> None:
        """Raise MICError unless this request's MIC authenticates the unpadded block `data`."""
        expected = self.compute_mic(app_key, data)
        if self.mic != expected:
            got = self.mic.hex() if self.mic is not None else None
            raise MICError(f"FragSessionSetupReq MIC mismatch: expected {expected.hex()}, got {got}")


@dataclass(frozen=True)
class FragSessionSetupAns(Versioned):
    """Uplink 0x02: the device's verdict on a FragSessionSetupReq (all flags False = accepted)."""

    frag_index: int
    encoding_unsupported: bool = False
    not_enough_memory: bool = False
    frag_index_unsupported: bool = False
    wrong_descriptor: bool = False
    session_cnt_replay: bool = False
    version: int = 1
    CID = 0x02
    _V1 = (1, (
        Bits("encoding_unsupported", 0, 1, bool),
        Bits("not_enough_memory", 1, 1, bool),
        Bits("frag_index_unsupported", 2, 1, bool),
        Bits("wrong_descriptor", 3, 1, bool),
        Bits("frag_index", 6, 2),
    ))  # fmt: skip
    _V2 = (1, (*_V1[1], Bits("session_cnt_replay", 4, 1, bool)))
    _V2_ONLY = ("session_cnt_replay",)


@dataclass(frozen=True)
class FragSessionDeleteReq(Command):
    """Downlink 0x03: deletes session `frag_index`."""

    frag_index: int
    CID = 0x03
    _V1 = (1, (_FRAG_INDEX_LOW,))


@dataclass(frozen=True)
class FragSessionDeleteAns(Command):
    """Uplink 0x03: confirms the deletion of session `frag_index`, or says it did not exist."""

    frag_index: int
    session_does_not_exist: bool = False
    CID = 0x03
    _V1 = (1, (_FRAG_INDEX_LOW, Bits("session_does_not_exist", 2, 1, bool)))


@dataclass(frozen=True)
class FragDataBlockReceivedReq(Command):
    """Uplink 0x04, v2.0.0 only: the device rebuilt session `frag_index` (`mic_error`: but the MIC failed)."""

    frag_index: int
    mic_error: bool = False
    CID = 0x04
    MIN_VERSION = 2
    _V1 = (1, (_FRAG_INDEX_LOW, Bits("mic_error", 2, 1, bool)))


@dataclass(frozen=True)
class FragDataBlockReceivedAns(Command):
    """Downlink 0x04, v2.0.0 only: the server acknowledges a FragDataBlockReceivedReq."""

    frag_index: int
    CID = 0x04
    MIN_VERSION = 2
    _V1 = (1, (_FRAG_INDEX_LOW,))


@dataclass(frozen=True)
class DataFragment(Command):
    """Downlink 0x08: fragment counter `n` (1..16383) of session `frag_index`, then FragSize payload bytes."""

    frag_index: int
    n: int
    payload: bytes
    CID = 0x08
    _V1 = (2, (Bits("n", 0, 14, lo=1), Bits("frag_index", 14, 2)))

    def __post_init__(self) -> None:
        if isinstance(self.payload, bytearray | memoryview):
            object.__setattr__(self, "payload", bytes(self.payload))
        super().__post_init__()
        if not isinstance(self.payload, bytes) or not 1 <= len(self.payload) <= 255:
            shown = f"{len(self.payload)} bytes" if isinstance(self.payload, bytes) else self.payload
            raise out_of_range(FrameError, "payload", shown, "1..255 bytes (FragSize)")

    def encode(self) -> bytes:
        """Return CID, IndexAndN and the payload."""
        return super().encode() + self.payload

    @classmethod
    def _frame_size(cls, version: int) -> int | None:
        return None  # the fragment runs to the end of the FRMPayload

    @classmethod
    def _parse(cls, data: bytes, version: int = 1) -> Self:
        payload = cls._payload(data, 3, exact=False)
        x = int.from_bytes(payload[:2], "little")
        return cls(**{f.name: f.unpack(x) for f in cls._V1[1]}, payload=payload[2:])


DownlinkCommand = (
    PackageVersionReq | FragSessionStatusReq | FragSessionSetupReq | FragSessionDeleteReq
    | FragDataBlockReceivedAns | DataFragment
)  # fmt: skip
UplinkCommand = (
    PackageVersionAns | FragSessionStatusAns | FragSessionSetupAns | FragSessionDeleteAns
    | FragDataBlockReceivedReq
)  # fmt: skip
_Table = dict[int, type[Command]]
_DOWNLINK: _Table = {c.CID: c for c in get_args(DownlinkCommand)}
_UPLINK: _Table = {c.CID: c for c in get_args(UplinkCommand)}


def _lookup(table: dict[int, type[Command]], direction: str, data: bytes, version: int, start: int = 0) -> Any:
    check_version(version)
    if not data:
        raise FrameError(f"empty {direction} frame: no CID")
    cls = table.get(data[start])
    if cls is None or version < cls.MIN_VERSION:
        where = f"byte {start} of a {len(data)}-byte frame"
        raise FrameError(f"unknown {direction} CID 0x{data[start]:02x} in TS004 v{version} at {where}")
    return cls


def _parse_all(table: _Table, direction: str, data: bytes, version: int) -> list[Any]:
    commands, start = [], 0
    while not commands or start < len(data):
        cls = _lookup(table, direction, data, version, start)
        size = cls._frame_size(version)
        end = len(data) if size is None else start + size
        try:
            commands.append(cls._parse(data[start:end], version))
        except FrameError as exc:
            raise FrameError(f"at byte {start} of a {len(data)}-byte {direction} frame: {exc}") from exc
        start = end
    return commands


def parse_downlink(data: bytes, version: int = 1) -> DownlinkCommand:
    """Parse one downlink command, picked by its CID; raise FrameError if it is unknown or malformed."""
    return _lookup(_DOWNLINK, "downlink", data, version)._parse(data, version)


def parse_uplink(data: bytes, version: int = 1) -> UplinkCommand:
    """Parse one uplink command, picked by its CID; raise FrameError if it is unknown or malformed."""
    return _lookup(_UPLINK, "uplink", data, version)._parse(data, version)


def parse_downlink_all(data: bytes, version: int = 1) -> list[DownlinkCommand]:
    """Parse a downlink FRMPayload that packs one or more commands (a DataFragment runs to the end)."""
    return _parse_all(_DOWNLINK, "downlink", data, version)


def parse_uplink_all(data: bytes, version: int = 1) -> list[UplinkCommand]:
    """Parse an uplink FRMPayload that packs one or more commands, e.g. several answers at once."""
    return _parse_all(_UPLINK, "uplink", data, version)
