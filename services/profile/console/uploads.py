"""A file between its dry run and its confirmed import: kept on this host's temporary disk
under a random name (the session holds the name), removed once imported or after an hour."""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import time
from pathlib import Path
from typing import IO

ROOT = Path(tempfile.gettempdir()) / "contacts-console-uploads"
KEEP_SECONDS = 3600
_NAME = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def _folder(tenant: str) -> Path:
    folder = ROOT / tenant  # the tenant id is validated by its pattern before it gets here
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def keep(tenant: str, file: IO[bytes]) -> str:
    """Copy the spooled upload aside; its name for the session."""
    sweep()
    name = secrets.token_urlsafe(24)
    path = _folder(tenant) / name
    file.seek(0)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := file.read(1024 * 1024):
            out.write(chunk)
    return name


def path_of(tenant: str, name: str) -> Path | None:
    """The kept file, or None (unknown, foreign name or already used)."""
    if not _NAME.match(name):
        return None
    path = _folder(tenant) / name
    return path if path.is_file() else None


def sweep() -> None:
    """Forget uploads older than KEEP_SECONDS."""
    if not ROOT.is_dir():
        return
    limit = time.time() - KEEP_SECONDS
    for path in ROOT.glob("*/*"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            continue
