"""Load a JSON export whole (orjson), with errors that name the file, line and column."""

from __future__ import annotations

from pathlib import Path

import orjson

from clonekit.errors import ClonekitError, decode_error


def load_json(path: str | Path):
    path = Path(path)
    data = path.read_bytes()
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
