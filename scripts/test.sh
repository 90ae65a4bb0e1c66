#!/usr/bin/env bash
# Set up (or reuse) .venv and run the test suite. `scripts/test.sh --quick` skips the slow tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test train serve-cpu bot compare export memory hosted lint
# the judge page's browser test drives Debian's chromium (Playwright's own browser download is not used)
if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1 || echo "chromium not installed: the judge browser test will skip" >&2
fi
args=()
for a in "$@"; do
  if [ "$a" = "--quick" ]; then args+=(-m "not slow" -n auto); else args+=("$a"); fi  # quick: every core
done
exec .venv/bin/python -m pytest -q ${args[@]+"${args[@]}"}
