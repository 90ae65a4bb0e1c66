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


def decode_error(path: str | Path, data: bytes, err: UnicodeDecodeError, offset: int = 0) -> ClonekitError:
    """Turn a UnicodeDecodeError into an error naming the file, line and column. `offset`: where `data` starts in
    the file (a chunk of it), so the byte offset named is the file's."""
    line = data.count(b"\n", 0, err.start) + 1
    col = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
    bad = data[err.start : err.start + 1].hex()
    hint = "re-export the chat or convert the file to UTF-8"
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        hint = "the file is UTF-16: convert it to UTF-8 (iconv -f utf-16 -t utf-8)"
    elif _is_cp1252(data):
        hint = "the file looks like Latin-1/Windows-1252 text: convert it to UTF-8 (iconv -f cp1252 -t utf-8)"
    return ClonekitError(
        f"column {col}: not valid UTF-8 (byte 0x{bad} at offset {offset + err.start}); {hint}", path, line
    )


def _is_cp1252(data: bytes) -> bool:
    """Bytes that read as Windows-1252 letters and hold no valid UTF-8 character beyond ASCII (a UTF-8 file with a
    damaged byte still has those)."""
    sample = data[: 1 << 16]
    as_utf8 = sample.decode("utf-8", "replace")
    if any(not c.isascii() and c != "\ufffd" for c in as_utf8):
        return False
    try:
        text = sample.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return any(c.isalpha() and not c.isascii() for c in text)
