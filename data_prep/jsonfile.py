"""Load a JSON export whole (orjson), with errors that name the file, line and column."""

from __future__ import annotations

from pathlib import Path

import orjson

from clonekit.errors import ClonekitError, decode_error


def load_json(path: str | Path):
    return parse_json(Path(path).read_bytes(), path)


def parse_json(data: bytes, path: str | Path):
    """JSON bytes (a file's, or a member of an archive named by `path`), with the same errors as `load_json`."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise decode_error(path, data, err) from None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        truncated = " (the file looks truncated)" if e.pos >= len(data.rstrip()) - 1 else ""
        raise ClonekitError(f"column {e.colno}: invalid JSON: {e.msg}{truncated}", path, e.lineno) from None
