"""The files an operator names (firmware image, device list): regular files of bounded size, read in one go.

A path to `/dev/zero` would be read without end and a FIFO would block `open` until a writer comes, so a file is
opened without blocking, checked to be a regular file, and refused above its cap before a byte is read. The caps:

- firmware: 16 MiB. TS004 counts at most 16383 fragments (a 14-bit counter, uncoded and coded together) of at most
  255 bytes (a one-byte FragSize), about 4 MiB; the cap leaves room above that so that the fragmentation check,
  which knows the campaign's fragment size, is the one that explains a too-large image.
- device list (CSV): 64 MiB, several million rows; a field over 128 KiB (Python's csv limit) is refused with its line.

A device list is read as UTF-8, with or without a byte-order mark (as spreadsheets save it); other encodings are
refused naming the file and the line of the first byte that is not UTF-8.
"""

from __future__ import annotations

import csv
import io
import os
import stat
from pathlib import Path

from fuota.core.settings import ConfigError

__all__ = ["CSV_FIELD_CAP", "DEVICES_FILE_CAP", "FIRMWARE_CAP", "MiB", "csv_error", "csv_rows", "read_capped"]

MiB = 1024 * 1024
FIRMWARE_CAP = 16 * MiB
DEVICES_FILE_CAP = 64 * MiB
CSV_FIELD_CAP = 128 * 1024  # csv's own default field_size_limit, named here so that the message can say it


def read_capped(path: Path, what: str, cap: int, written: str | None = None) -> bytes:
    """The bytes of the regular file at `path`; ConfigError naming `what` and the path (as `written` in the file
    that names it, if given) when it cannot be read, is not a regular file (a folder, a device, a FIFO) or holds
    more than `cap` bytes."""
    named = f"{what} = {written or repr(str(path))}"
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ConfigError(f"{named} cannot be read: {exc.strerror}") from exc
    try:
        mode = os.fstat(fd)
        if not stat.S_ISREG(mode.st_mode):
            raise ConfigError(f"{named} is {_kind(mode.st_mode)}, not a regular file: point it at a file")
        if mode.st_size > cap:
            raise ConfigError(f"{named} is {_size(mode.st_size)}, over the cap of {_size(cap)}: {_why(what)}")
        data = _read_at_most(fd, cap + 1)  # cap + 1: the file may have grown since fstat
    except OSError as exc:
        raise ConfigError(f"{named} cannot be read: {exc.strerror}") from exc
    finally:
        os.close(fd)
    if len(data) > cap:
        raise ConfigError(f"{named} is over the cap of {_size(cap)}: {_why(what)}")
    return data


def csv_rows(path: Path, what: str) -> csv.DictReader:
    """A csv.DictReader over the device list at `path` (UTF-8, a byte-order mark allowed); ConfigError naming the
    file, and the line for a byte that is not UTF-8. Iterating it raises csv.Error for a malformed row, which
    `csv_error` turns into a message."""
    data = read_capped(path, what, DEVICES_FILE_CAP)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{what} = {str(path)!r} line {line}: byte {data[exc.start]:#04x} is not UTF-8 (the file is in another "
            "encoding, say Latin-1 or UTF-16): save it as UTF-8 (CSV UTF-8 in a spreadsheet)"
        ) from None
    return csv.DictReader(io.StringIO(text, newline=""))


def csv_error(exc: csv.Error, path: Path, what: str, line: int) -> ConfigError:
    """The message for a malformed row of the device list at `path`, naming its line."""
    if "field larger than field limit" in str(exc):
        detail = f"a field is over {_size(CSV_FIELD_CAP)}; a device row holds short fields (dev_eui, …)"
    else:
        detail = f"not valid CSV ({exc})"
    return ConfigError(f"{what} = {str(path)!r} line {line}: {detail}")


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(left, MiB))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _size(count: int) -> str:
    if count >= MiB:
        return f"{count / MiB:.1f} MiB"
    return f"{count // 1024} KiB" if count >= 1024 and count % 1024 == 0 else f"{count} bytes"


def _why(what: str) -> str:
    if what == "firmware":
        return "TS004 sends at most 16383 fragments of at most 255 bytes (about 4 MiB); check the path"
    return "split the device list into several campaigns"
