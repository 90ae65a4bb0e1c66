#!/usr/bin/env bash
# Set up (or reuse) .venv and run the test suite. `scripts/test.sh --quick` skips the slow tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test train serve-cpu bot compare export lint
args=()
for a in "$@"; do
  if [ "$a" = "--quick" ]; then args+=(-m "not slow"); else args+=("$a"); fi
done
exec .venv/bin/python -m pytest -q ${args[@]+"${args[@]}"}
