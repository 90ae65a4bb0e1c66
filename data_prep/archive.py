"""Zip exports read safely: a corrupt, encrypted or oversized archive is one clear error, never a traceback or a
full memory.

The inflated size is bounded while reading (the sizes in a zip's headers can lie), by `max_bytes` per archive:
a small zip of blank lines would otherwise fill any memory. The standard library's `zipfile` does the reading; this
module only adds the accounting and the error translation.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

from clonekit.errors import ClonekitError

DEFAULT_MAX_UNZIPPED_MB = 2048
# what a damaged archive raises while it is opened or read
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError, OSError, RuntimeError)


def is_zip(path: Path) -> bool:
    try:
        return path.is_file() and zipfile.is_zipfile(path)
    except OSError:
        return False


class _Bounded(io.RawIOBase):
    """A zip member's stream that counts what it inflates against the archive's budget."""

    def __init__(self, archive: SafeZip, name: str):
        self.archive = archive
        self.name = name
        self.raw = archive._open_member(name)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self.raw.read(len(buffer))
        except _ZIP_ERRORS as e:
            raise self.archive.damaged(self.name, e) from None
        self.archive._count(len(data), self.name)
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.raw.close()
        super().close()


class SafeZip:
    """A zip archive with clear errors (file!member) and a bound on the bytes it may inflate."""

    def __init__(self, path: Path, max_bytes: int | None = None):
        self.path = Path(path)
        self.max_bytes = max_bytes if max_bytes is not None else DEFAULT_MAX_UNZIPPED_MB << 20
        self.inflated = 0
        try:
            self.zf = zipfile.ZipFile(self.path)
            self.names = [i.filename for i in self.zf.infolist() if i.filename and not i.filename.endswith("/")]
        except _ZIP_ERRORS as e:
            raise ClonekitError(f"not a readable zip archive ({e}); export the chat again", self.path) from None

    def close(self) -> None:
        self.zf.close()

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def damaged(self, name: str, err: Exception) -> ClonekitError:
        return ClonekitError(
            f"the zip archive is damaged ({type(err).__name__}: {err}); export the chat again", f"{self.path}!{name}"
        )

    def _count(self, n: int, name: str) -> None:
        self.inflated += n
        if self.inflated > self.max_bytes:
            raise ClonekitError(
                f"unzips to more than {self.max_bytes >> 20} MiB; raise the limit with --max-unzipped-mb "
                "if the export is really this large",
                f"{self.path}!{name}",
            )

    def _open_member(self, name: str):
        try:
            info = self.zf.getinfo(name)
        except KeyError:
            raise ClonekitError("no such file in the zip archive", f"{self.path}!{name}") from None
        if info.flag_bits & 0x1:
            raise ClonekitError(
                "the zip archive is encrypted (password protected): unzip it yourself and pass the files inside",
                f"{self.path}!{name}",
            )
        try:
            return self.zf.open(info)
        except _ZIP_ERRORS as e:
            raise self.damaged(name, e) from None

    def open(self, name: str) -> io.BufferedReader:
        """A binary stream of one member (bounded, errors translated)."""
        return io.BufferedReader(_Bounded(self, name), 1 << 16)

    def read(self, name: str) -> bytes:
        with self.open(name) as f:
            return f.read()


class ExportTree:
    """An export that is many files (a Discord data package, a Slack workspace) as a folder or a zip: list its
    files (posix paths relative to the root), read them."""

    def __init__(self, root: Path, max_bytes: int | None = None):
        self.root = root
        self.zip = SafeZip(root, max_bytes) if is_zip(root) else None
        names = self.zip.names if self.zip else [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
        self.names = names

    def read(self, name: str) -> bytes:
        if self.zip:
            return self.zip.read(name)
        try:
            return (self.root / name).read_bytes()
        except OSError as e:
            raise ClonekitError(f"cannot read: {e.strerror}", self.root / name) from None

    def find(self, suffix: str) -> str | None:
        suffix = suffix.lower()
        return next((n for n in self.names if n.lower().endswith(suffix)), None)
