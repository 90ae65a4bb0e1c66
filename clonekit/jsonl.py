"""Read JSON Lines files with errors that name the file and line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson

from clonekit.errors import ClonekitError


def iter_jsonl(path: str | Path, hint: str) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for each non-blank line. `hint` says what the file should be."""
    path = Path(path)
    if not path.exists():
        raise ClonekitError(f"file not found ({hint})", path)
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as e:
                raise ClonekitError(f"not JSON ({e.msg}); expected {hint}", path, lineno) from None
            if not isinstance(obj, dict):
                raise ClonekitError(f"not a JSON object; expected {hint}", path, lineno)
            yield lineno, obj
