#!/usr/bin/env bash
# Every GPU path of clonekit in one command, one table (see scripts/gpu_check.py): LoRA/QLoRA throughput and
# memory on Llama-3.2-1B and Llama-3.1-8B shapes against a plain HF+PEFT baseline, the GPU-marked tests, and vLLM
# on CUDA where it is installed. About 10 minutes on one H100.
#
# On a CUDA machine with torch, transformers, peft and accelerate (the GPU image has them), the rest travels as
# wheels in .whl/ (made on a machine with the package index by `scripts/gpu_check.sh --fetch-wheels`; .whl/ is
# git-ignored). vLLM's wheel is too large to travel: the table says whether the machine has it.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WHEELS="trl==1.16.0 datasets==5.2.0 bitsandbytes==0.50.2 liger-kernel==0.8.5 dill==0.4.1 multiprocess==0.70.19
  fsspec==2026.9.0 pydantic==2.14.3 pydantic-core==2.50.4 typing-inspection==0.4.5 annotated-types==0.8.0
  orjson==3.13.0 gguf==0.19.0 typing-extensions==4.16.0"
if [ "${1:-}" = "--fetch-wheels" ]; then
  mkdir -p .whl
  # shellcheck disable=SC2086
  exec "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl $WHEELS
fi
# CLONEKIT_GPU_WHEELS=0: use the environment as it is (e.g. PYTHON=.venv/bin/python ... --smoke here)
if [ "${CLONEKIT_GPU_WHEELS:-1}" = 1 ] && compgen -G ".whl/*.whl" > /dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/clonekit-site \
    .whl/*.whl || { echo "gpu_check: installing the carried wheels failed" >&2; exit 1; }
  export PYTHONPATH=/tmp/clonekit-site
fi
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD"
exec "$PY" scripts/gpu_check.py "$@"
