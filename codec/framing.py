"""Fixed bit-field layouts over little-endian payloads: the machinery under codec.frames.

A command's layout is (payload bytes, fields), each field a run of bits of the payload read as one little-endian
integer. TS004 has only little-endian fields, so that single view covers the 14-bit counters, the flag bytes and
the raw Descriptor/MIC, and each layout in codec.frames reads like the table in the spec (TS004-NOTES.md §3).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from codec.errors import FrameError, out_of_range

__all__ = ["Bits", "Command", "Layout", "Versioned", "check_version"]


@dataclass(frozen=True)
class Bits:
    """`width` bits at `shift` of the payload integer, holding an int, a bool or raw little-endian bytes."""

    name: str
    shift: int
    width: int
    kind: type = int
    lo: int = 0
    hi: int | None = None  # None: anything that fits the width

    def check(self, value: object) -> None:
        if self.kind is bool:
            if not isinstance(value, bool):
                raise out_of_range(FrameError, self.name, value, "True or False")
        elif self.kind is bytes:
            if not isinstance(value, bytes) or len(value) * 8 != self.width:
                raise out_of_range(FrameError, self.name, value, f"{self.width // 8} bytes")
        else:
            hi = (1 << self.width) - 1 if self.hi is None else self.hi
            if isinstance(value, bool) or not isinstance(value, int) or not self.lo <= value <= hi:
                allowed = str(hi) if self.lo == hi else f"{self.lo}..{hi}"
                raise out_of_range(FrameError, self.name, value, allowed)

    def pack(self, value: Any) -> int:
        return (int.from_bytes(value, "little") if self.kind is bytes else int(value)) << self.shift

    def unpack(self, x: int) -> Any:
        v = (x >> self.shift) & ((1 << self.width) - 1)
        return v.to_bytes(self.width // 8, "little") if self.kind is bytes else self.kind(v)


Layout = tuple[int, tuple[Bits, ...]]  # (payload bytes, fields)


def check_version(version: object) -> int:
    if isinstance(version, bool) or version not in (1, 2):
        raise out_of_range(FrameError, "version", version, "1 or 2", "TS004 v1.0.0 or v2.0.0")
    return version  # type: ignore[return-value]


class Command:
    """Shared validation, encoding and parsing of the fixed-layout part of a command."""

    CID: ClassVar[int]
    MIN_VERSION: ClassVar[int] = 1
    VERSIONED: ClassVar[bool] = False
    _V1: ClassVar[Layout]
    _V2: ClassVar[Layout | None] = None  # None: same as v1
    _V2_ONLY: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def _layout(cls, version: int) -> Layout:
        return cls._V2 if version == 2 and cls._V2 is not None else cls._V1

    def __post_init__(self) -> None:
        version = check_version(getattr(self, "version", 1))
        for field in self._layout(version)[1]:
            value = getattr(self, field.name)
            if field.kind is bytes and isinstance(value, bytearray | memoryview):
                object.__setattr__(self, field.name, value := bytes(value))
            field.check(value)
        if version == 1:
            for f in dataclasses.fields(self):  # type: ignore[arg-type]
                if f.name in self._V2_ONLY and (value := getattr(self, f.name)) != f.default:
                    raise out_of_range(FrameError, f.name, value, repr(f.default), "v2.0.0 only")

    def encode(self) -> bytes:
        """Return the command as sent: CID, then the payload."""
        size, fields = self._layout(getattr(self, "version", 1))
        x = sum(f.pack(getattr(self, f.name)) for f in fields)
        return bytes([self.CID]) + x.to_bytes(size, "little")

    @classmethod
    def _frame_size(cls, version: int) -> int | None:
        return 1 + cls._layout(version)[0]

    @classmethod
    def _payload(cls, data: bytes, size: int, exact: bool = True) -> bytes:
        """Return the payload after checking the CID and the length (`exact` False: at least `size`)."""
        what = f"{cls.__name__} (CID 0x{cls.CID:02x})"
        if not data or data[0] != cls.CID:
            raise FrameError(f"{what}: frame starts with {f'0x{data[0]:02x}' if data else 'nothing'}")
        payload = bytes(data[1:])
        if len(payload) < size or (exact and len(payload) > size):
            problem = "truncated" if len(payload) < size else "trailing bytes"
            need = f"{size}" if exact else f"at least {size}"
            raise FrameError(f"{what} {problem}: {len(payload)}-byte payload, expected {need}")
        return payload

    @classmethod
    def _parse(cls, data: bytes, version: int = 1) -> Self:
        size, fields = cls._layout(version)
        x = int.from_bytes(cls._payload(data, size), "little")
        values = {f.name: f.unpack(x) for f in fields}
        return cls(**values, version=version) if cls.VERSIONED else cls(**values)

    @classmethod
    def parse(cls, data: bytes) -> Self:
        """Parse one command (CID included); raise FrameError on a wrong CID, length or field."""
        return cls._parse(data)


class Versioned(Command):
    VERSIONED = True

    @classmethod
    def parse(cls, data: bytes, version: int = 1) -> Self:  # type: ignore[override]
        """Parse one command (CID included) in the `version` layout; raise FrameError if it is malformed."""
        return cls._parse(data, check_version(version))
