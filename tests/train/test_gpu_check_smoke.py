"""scripts/gpu_check.sh --smoke on the CPU: every row of the GPU check (the HF + PEFT baselines, clonekit's rows
built by clonekit's own functions, `clonekit train` end to end) runs at toy sizes, so the script a GPU session runs
once is known to work before it gets there."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_gpu_check_smoke(tmp_path):
    env = {**os.environ, "CLONEKIT_GPU_WHEELS": "0", "PYTHON": sys.executable}
    proc = subprocess.run(
        [str(ROOT / "scripts/gpu_check.sh"), "--smoke", "--skip-tests", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "table.json").read_text())
    recipes = {r["recipe"] for r in result["rows"]}
    assert recipes == {"naive", "hf-peft", "clonekit", "clonekit-card"}
    assert {r["method"] for r in result["rows"]} == {"lora", "qlora"}
    assert all("error" not in r for r in result["rows"] + result["e2e"])
    assert all(r["tokens_per_s"] > 0 for r in result["rows"] + result["e2e"])
    assert [r["recipe"] for r in result["e2e"]] == ["clonekit train (gpu-8b-lora-24gb.yaml)"]
    clonekit = [r for r in result["rows"] if r["recipe"] == "clonekit"]
    assert all(r["attention"] == "varlen_sdpa" for r in clonekit)  # the CPU's choice
    assert "| shape | method | recipe | tokens/s |" in (tmp_path / "table.md").read_text()
