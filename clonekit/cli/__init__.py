"""clonekit's command line: one module per stage (prep, train, serve, bot, compare, registry, evolve, memory), each
a thin layer that reads options, calls its stage and hands the result to `render`. Importing this package registers
every command on `app`, in the order `clonekit --help` lists them."""

from __future__ import annotations

import importlib

from clonekit.cli.common import app

COMMAND_MODULES = ("prep", "train", "serve", "bot", "compare", "hosted", "registry", "evolve", "memory")
for _name in COMMAND_MODULES:
    importlib.import_module(f"clonekit.cli.{_name}")

__all__ = ["app", "main"]


def main() -> None:
    app()
