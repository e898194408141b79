"""What the fuzz tests of both back ends' answer readers share: arbitrary JSON values, and what a well-formed EUI
and a well-formed device list are."""

from __future__ import annotations

from hypothesis import strategies as st

from fuota.backends.base import DeviceReport
from fuota.core.model import EUI_PATTERN, Stage

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=16,
)


def is_eui(value: object) -> bool:
    """A DevEUI as fuota hands it on: 16 lower-case hexadecimal digits."""
    return isinstance(value, str) and bool(EUI_PATTERN.match(value)) and value == value.lower()


def are_device_reports(result: object) -> bool:
    """A well-formed answer to `devices()`: a list of DeviceReports, each with an EUI, a stage and raw fields."""
    return isinstance(result, list) and all(
        isinstance(r, DeviceReport)
        and is_eui(r.dev_eui)
        and isinstance(r.stage, Stage)
        and isinstance(r.raw, dict)
        and (r.reason is None or isinstance(r.reason, str))
        for r in result
    )
