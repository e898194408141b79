"""The IoTSquare adapter's pure parts: a token no HTTP header can carry is refused without being shown, and the
temporary groups' identities."""

from __future__ import annotations

import pytest

from fuota.backends.iotsquare.adapter import IoTSquareBackend, group_identity


def test_token_that_no_header_can_carry_is_refused_without_echo() -> None:
    with pytest.raises(ValueError) as caught:
        IoTSquareBackend("iot-eu", "http://127.0.0.1:9", "bad\ntoken-xyz")
    assert "token-xyz" not in str(caught.value) and "iot-eu" in str(caught.value)


def test_group_identity_is_deterministic_and_distinct() -> None:
    assert group_identity("camp-1", 0) == group_identity("camp-1", 0)
    assert len({group_identity(prefix, i) for prefix in ("camp-1", "camp-2") for i in range(3)}) == 6
