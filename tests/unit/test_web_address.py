"""The dashboard's --http address (fuota.web.server.parse_address): what it accepts and what it refuses."""

from __future__ import annotations

import logging

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


def test_the_daemon_command_restores_the_logging_it_found() -> None:
    # Run inside another program (here pytest), a handler left on the root logger would write to a stream closed
    # after the command, and every later log line of the process would fail with "Logging error".
    from typer.testing import CliRunner

    from fuota.cli.app import app

    root = logging.getLogger()
    before = (root.handlers[:], root.level)
    result = CliRunner().invoke(app, ["daemon", "--http", "127.0.0.1:x"])
    assert result.exit_code == 2 and "127.0.0.1:x" in result.output
    assert (root.handlers, root.level) == before
