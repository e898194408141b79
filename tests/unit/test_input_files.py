"""The files fuota reads and creates: a device list with a UTF-8 byte-order mark is read like one without, the
reader stops at its cap however much the file holds, and the SQLite store is created 0600 whatever the umask,
with a warning when an existing one is readable by others."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from fuota.campaign import load_campaign
from fuota.core.settings import ConfigError
from fuota.input_files import read_capped
from fuota.store import Store
from tests.support.config_files import write_campaign

DEVICES = ["8cf9573000000011", "8cf9573000000012"]


def test_a_device_list_with_a_byte_order_mark_is_read_like_one_without(tmp_path: Path) -> None:
    rows = "dev_eui,site\r\n" + "".join(f"{eui},Café\r\n" for eui in DEVICES)
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + rows.encode())
    path = write_campaign(tmp_path, "bom", None, firmware=b"\x01" * 100, devices_file="bom.csv")
    assert load_campaign(path).devices == tuple(DEVICES)


def test_the_reader_stops_at_its_cap_and_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "ten.bin").write_bytes(b"0123456789")
    assert read_capped(tmp_path / "ten.bin", "firmware", 10) == b"0123456789"
    with pytest.raises(ConfigError, match=r"firmware = '.*ten\.bin' is 10 bytes, over the cap of 9 bytes"):
        read_capped(tmp_path / "ten.bin", "firmware", 9)
    with pytest.raises(ConfigError, match=r"'/dev/zero' is a device, not a regular file"):
        read_capped(Path("/dev/zero"), "devices_file", 10)


def test_the_store_file_is_created_private_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        Store(f"sqlite:///{tmp_path / 'fuota.db'}").close()
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "fuota.db").stat().st_mode) == 0o600


def test_an_existing_store_readable_by_others_is_warned_of_and_left_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "fuota.db"
    Store(f"sqlite:///{path}").close()
    assert not caplog.records  # a private store: nothing to say
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="fuota.store"):
        Store(f"sqlite:///{path}").close()
    (record,) = caplog.records
    assert str(path) in record.getMessage() and "0644" in record.getMessage() and "chmod 600" in record.getMessage()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
