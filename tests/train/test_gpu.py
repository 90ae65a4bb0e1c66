"""The GPU paths: QLoRA, bf16 and Liger on CUDA. Skipped without a GPU; `scripts/gpu_check.sh` runs them."""

import json

import pytest
import torch

from clonekit.config import TrainConfig
from clonekit.train import train
from clonekit.train.tiny import make_tiny_model
from tests.helpers import sample_dataset

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("gpu")
    return make_tiny_model(d / "tiny"), sample_dataset(d, weeks=1)


def run(setup, tmp_path, **kw):
    tiny, ds = setup
    cfg = TrainConfig(
        base=str(tiny), max_seq_len=256, row_tokens=512, max_steps=4, eval_every=4, learning_rate=1e-2, **kw
    )
    out = train(cfg, ds, tmp_path / "run", show_progress=False, log=lambda s: None)
    return json.loads((out / "clonekit.json").read_text())["metrics"]


def test_qlora_step_on_cuda(setup, tmp_path):
    m = run(setup, tmp_path, quantization="nf4")
    assert m["device"] == "cuda"
    assert m["quantization"] == "nf4"
    assert m["bf16_autocast"]
    assert m["valid_loss"] < m["base_valid_loss"]


def test_bf16_on_cuda(setup, tmp_path):
    m = run(setup, tmp_path, dtype="bfloat16", mixed_precision="bf16")
    assert m["dtype"] == "bfloat16"
    assert m["valid_loss"] < m["base_valid_loss"]


def test_liger_on_cuda(setup, tmp_path):
    pytest.importorskip("liger_kernel")
    m = run(setup, tmp_path, liger=True)
    assert m["valid_loss"] < m["base_valid_loss"]


def test_gradient_checkpointing_on_cuda(setup, tmp_path):
    m = run(setup, tmp_path, gradient_checkpointing="on")
    assert m["gradient_checkpointing"]
    assert m["valid_loss"] < m["base_valid_loss"]
