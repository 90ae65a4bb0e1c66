#!/usr/bin/env bash
# Lint and type-check with the project's own config (pyproject.toml): ruff (rules and import order), ruff's
# formatter in check mode, and mypy with the pydantic plugin. CI runs it before the tests; so does pre-commit.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test train serve-cpu bot compare export hosted lint
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python scripts/check_sizes.py  # issue 25: modules <= 400 lines, functions <= 60 (exceptions listed with reasons)
