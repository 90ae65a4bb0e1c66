"""User-facing errors: the CLI prints these as one clear line, never a traceback."""

from __future__ import annotations

from pathlib import Path


class ClonekitError(Exception):
    """An error caused by the user's input or environment (bad file, bad flag, missing package)."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.path = str(path) if path is not None else None
        self.line = line
        self.message = message
        where = ""
        if self.path is not None:
            where = self.path + (f":{line}" if line is not None else "") + ": "
        super().__init__(where + message)


def decode_error(path: str | Path, data: bytes, err: UnicodeDecodeError) -> ClonekitError:
    """Turn a UnicodeDecodeError into an error naming the file, line and column."""
    line = data.count(b"\n", 0, err.start) + 1
    col = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
    bad = data[err.start : err.start + 1].hex()
    return ClonekitError(
        f"column {col}: not valid UTF-8 (byte 0x{bad} at offset {err.start}); "
        "re-export the chat or convert the file to UTF-8",
        path,
        line,
    )
