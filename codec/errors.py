"""Errors raised by the TS004 codec.

Every error names the field, the offending value and what is allowed, so a caller can show it as is::

    CodecError(ValueError)            anything the codec refuses
    ├── PlanError                     a fragmentation plan outside TS004's limits
    ├── FragmentError                 a fragment the decoder cannot take (counter, length)
    ├── IncompleteError               result() asked for before the data could be recovered
    └── FrameError                    a command frame that cannot be encoded or parsed
        └── MICError                  a v2 FragSessionSetupReq whose MIC does not match
"""

from __future__ import annotations

__all__ = ["CodecError", "FragmentError", "FrameError", "IncompleteError", "MICError", "PlanError"]


class CodecError(ValueError):
    """Base of every error the codec raises."""


class PlanError(CodecError):
    """A fragmentation plan outside TS004's limits."""


class FragmentError(CodecError):
    """A fragment the decoder cannot take: counter out of range or wrong length."""


class IncompleteError(CodecError):
    """The decoder was asked for its result before the data could be recovered."""


class FrameError(CodecError):
    """A command frame that cannot be encoded or parsed."""


class MICError(FrameError):
    """A v2 FragSessionSetupReq whose MIC does not match the data block."""


def out_of_range(cls: type[CodecError], field: str, value: object, allowed: str, hint: str = "") -> CodecError:
    """Build a `cls` error that names the field, the value and the allowed range."""
    text = f"{field} = {value!r} is out of range: allowed {allowed}"
    return cls(f"{text}; {hint}" if hint else text)
