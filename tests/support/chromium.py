"""Debian's Chromium for the browser tests: where it is, and the flags that keep it off the network."""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"  # Debian's; a test tool's own browser download is never used
# Without the background-networking flags Chromium tries Google's hosts at every start, refused on this machine.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
