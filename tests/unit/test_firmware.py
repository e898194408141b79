"""The firmware check before each task is created (fuota.service.firmware.checked_firmware): the stored copy against
the sha256 recorded at launch and the file it came from."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from fuota.service.firmware import FirmwareChanged, checked_firmware

FIRMWARE = np.random.default_rng(48).bytes(1500)


SHA = "f3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # any digest not of FIRMWARE


def test_checked_firmware(tmp_path: Path) -> None:
    path = tmp_path / "fw.bin"
    path.write_bytes(FIRMWARE)
    recorded = hashlib.sha256(FIRMWARE).hexdigest()
    assert checked_firmware(FIRMWARE, recorded, str(path)) == FIRMWARE
    assert checked_firmware(FIRMWARE, recorded, None) == FIRMWARE
    assert checked_firmware(FIRMWARE, recorded, str(tmp_path / "gone.bin")) == FIRMWARE
    with pytest.raises(FirmwareChanged, match=f"recorded at launch \\({SHA[:12]}….*store is damaged"):
        checked_firmware(FIRMWARE, SHA, None)
    path.write_bytes(b"other")
    with pytest.raises(FirmwareChanged, match=rf"changed since launch \(sha256 {recorded[:12]}… then"):
        checked_firmware(FIRMWARE, recorded, str(path))


def test_a_fifo_in_the_images_place_stops_the_campaign_without_hanging(tmp_path: Path) -> None:
    image = b"\x01" * 100
    os.mkfifo(tmp_path / "fw.bin")
    with pytest.raises(FirmwareChanged, match=r"fw\.bin.* is a FIFO \(named pipe\), not a regular file.*restore"):
        checked_firmware(image, hashlib.sha256(image).hexdigest(), str(tmp_path / "fw.bin"))
