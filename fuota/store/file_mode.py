"""The SQLite store file is private to its owner: it holds multicast keys (`gen_app_key`) and back-end answers.

SQLite creates a new database file with the process's umask applied to 0644, so commonly readable by everyone.
The file is created here first, 0600 whatever the umask, before SQLAlchemy opens it; SQLite then gives its `-wal`
and `-shm` files the same mode. An existing file that group or others may read is left as it is (its owner may
have meant it) but a warning on stderr says so and how to fix it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy.engine import URL

__all__ = ["PRIVATE_MODE", "make_private_sqlite_file"]

PRIVATE_MODE = 0o600
log = logging.getLogger("fuota.store")


def make_private_sqlite_file(url: URL) -> None:
    """Create the SQLite file `url` names, mode 0600, if it does not exist; warn when an existing one is readable
    by group or others. Nothing for an in-memory database, a `file:` URI, or a folder that does not exist (opening
    the store then fails with its own message)."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:") or url.query.get("mode") == "memory":
        return
    path = Path(database)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except FileExistsError:
        _warn_if_readable(path)
        return
    except OSError:
        return
    try:
        os.fchmod(fd, PRIVATE_MODE)  # the umask may have taken bits away; never added, but set it exactly
    finally:
        os.close(fd)


def _warn_if_readable(path: Path) -> None:
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return
    if mode & 0o044:
        log.warning(
            "the store %s may be read by users other than its owner (mode %04o) and it holds multicast keys: "
            "chmod 600 %s",
            path,
            mode,
            path,
        )
