"""The firmware a task is created with: the image stored at launch, checked again just before each create.

Two checks, both against the sha256 recorded at launch: the stored copy (a damaged store must not send a damaged
image) and the file the image was read from. A file changed since launch means someone meant another image, or
replaced it by mistake; either way the campaign must not go on guessing which one is right, so it stops with
that reason. A file that is gone is no reason to stop: the store holds the image that was chosen.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from fuota.core.settings import ConfigError
from fuota.input_files import FIRMWARE_CAP, read_capped

__all__ = ["FirmwareChanged", "checked_firmware"]


class FirmwareChanged(Exception):
    """The firmware no longer matches the sha256 recorded at launch; the message says where and what to do."""


def checked_firmware(stored: bytes, recorded: str, path: str | None) -> bytes:
    """`stored` once it and the file at `path` (if it still exists) both match `recorded`; FirmwareChanged
    otherwise."""
    digest = hashlib.sha256(stored).hexdigest()
    if digest != recorded:
        raise FirmwareChanged(
            f"the firmware in the store (sha256 {digest[:12]}…) no longer matches the sha256 recorded at launch "
            f"({recorded[:12]}…): the store is damaged; restore it from a backup, or launch the campaign again"
        )
    if path is None:
        return stored
    if not os.path.lexists(path):
        return stored
    try:
        # Bounded like at launch: a FIFO or /dev/zero put in the image's place must not hang or fill the runner.
        on_disk = read_capped(Path(path), "firmware", FIRMWARE_CAP)
    except ConfigError as exc:
        raise FirmwareChanged(f"{exc} (checking it against the image launched): restore the file") from exc
    now = hashlib.sha256(on_disk).hexdigest()
    if now != recorded:
        raise FirmwareChanged(
            f"firmware {path} changed since launch (sha256 {recorded[:12]}… then, {now[:12]}… now): the campaign "
            "stops rather than send an image nobody chose; launch a new campaign for the new image"
        )
    return stored
