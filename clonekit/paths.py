"""Where things live: the cache directory, and user paths checked with one clear error each."""

from __future__ import annotations

import os
from pathlib import Path

from clonekit.errors import ClonekitError


def cache_dir() -> Path:
    """`$CLONEKIT_CACHE`, else `$XDG_CACHE_HOME/clonekit`, else `~/.cache/clonekit`."""
    if os.environ.get("CLONEKIT_CACHE"):
        return Path(os.environ["CLONEKIT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "clonekit"


def readable_file(path: str | Path, what: str, folder_ok: bool = False) -> Path:
    """An input file that exists, is a file (or a folder, with `folder_ok`) and can be read; else one clear error
    naming it."""
    path = Path(path)
    if not path.exists():
        raise ClonekitError(f"file not found ({what})", path)
    if path.is_dir() and not folder_ok:
        raise ClonekitError(f"is a folder; expected {what}", path)
    if not os.access(path, os.R_OK):
        raise ClonekitError("cannot read the file (permission denied)", path)
    return path


def writable_dir(path: str | Path, what: str) -> Path:
    """An output folder that exists or can be made, and can be written; else one clear error naming it."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ClonekitError(f"is a file; -o/--out names the {what} folder", path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ClonekitError(f"cannot create the {what} folder: {e.strerror}", path) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ClonekitError(f"cannot write to the {what} folder (permission denied)", path)
    return path


def writable_file(path: str | Path, what: str) -> Path:
    """An output file whose folder exists or can be made and can be written, and that is not a folder."""
    path = Path(path)
    if path.is_dir():
        raise ClonekitError(f"is a folder; -o/--out names the {what} file", path)
    writable_dir(path.parent, f"{what}'s")
    return path
