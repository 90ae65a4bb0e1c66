"""Optional dependencies: each stage's imports are declared in an extra of pyproject.toml; a missing one is a clear
error naming the extra, not a traceback."""

from __future__ import annotations

import importlib
from types import ModuleType

from clonekit.errors import ClonekitError


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import `module`, or fail with how to install the extra that declares it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ClonekitError(f"{purpose} needs {module} ({e}): pip install 'clonekit[{extra}]'") from None
