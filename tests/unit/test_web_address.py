"""The dashboard's --http address (fuota.web.server.parse_address): what it accepts and what it refuses."""

from __future__ import annotations

import pytest

from fuota.web.server import DashboardError, parse_address


@pytest.mark.parametrize(
    ("text", "address"),
    [("8080", ("127.0.0.1", 8080)), (":0", ("127.0.0.1", 0)), ("0.0.0.0:80", ("0.0.0.0", 80)),
     ("[::1]:9000", ("::1", 9000)), ("localhost:1", ("localhost", 1))],
)  # fmt: skip
def test_http_address(text: str, address: tuple[str, int]) -> None:
    assert parse_address(text) == address


@pytest.mark.parametrize("text", ["", "host:", "127.0.0.1:http", "127.0.0.1:70000"])
def test_bad_http_address(text: str) -> None:
    with pytest.raises(DashboardError, match="--http"):
        parse_address(text)
