"""The GPU paths: the CUDA attention against eager (loss and gradients of the first step), QLoRA, bf16, Liger and
the memory plan's checkpointing through `clonekit train`. Skipped without a GPU; `scripts/gpu_check.sh` runs them."""

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


def test_cuda_attention_equals_eager_in_bf16(monkeypatch):
    """The first step's loss and the LoRA gradients of `auto`'s CUDA choice (varlen_attn with torch >= 2.10) equal
    eager attention's over the same packed row, within bf16 tolerance; the varlen kernel runs once per layer."""
    import inspect

    from peft import LoraConfig, get_peft_model

    from clonekit.train import attention
    from clonekit.train.attention_choice import attention_facts, choose_attention
    from tests.train.test_attention import packed_batch, tiny_model

    choice = choose_attention("auto", attention_facts("cuda", "bfloat16"))
    assert choice.name != "varlen_sdpa"
    calls = []
    real = attention.torch_varlen_kernel()
    if real is not None:

        def counting(*args, **kwargs):
            calls.append(args[0].shape)
            return real(*args, **kwargs)

        counting.__signature__ = inspect.signature(real)  # type: ignore[attr-defined]
        monkeypatch.setattr(attention, "_kernel", counting)

    def first_step(attn):
        model = tiny_model(attn).to("cuda", torch.bfloat16)  # bf16 weights under autocast, as `clonekit train`
        model = get_peft_model(model, LoraConfig(r=8, target_modules="all-linear", task_type="CAUSAL_LM"))
        for name, p in model.named_parameters():
            if "lora_B" in name:  # non-zero B, so every LoRA gradient is informative
                torch.nn.init.normal_(p, std=0.02, generator=torch.Generator(device="cuda").manual_seed(1))
        batch = {k: v.cuda() if hasattr(v, "cuda") else v for k, v in packed_batch().items()}
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(**batch, use_cache=False).loss
        loss.backward()
        return float(loss), {n: p.grad.float() for n, p in model.named_parameters() if p.grad is not None}

    loss, grads = first_step(choice.name)
    if choice.name == "varlen_attn":
        assert len(calls) == 2  # one call per layer over the whole packed row
    eager_loss, eager_grads = first_step("eager")
    assert loss == pytest.approx(eager_loss, rel=1e-2)
    for name, g in grads.items():
        ref = eager_grads[name]
        assert torch.linalg.norm(g - ref) <= 0.05 * torch.linalg.norm(ref) + 1e-6, name


def test_auto_attention_and_plan_on_cuda(setup, tmp_path):
    m = run(setup, tmp_path)
    assert m["attention"] in ("varlen_attn", "flash_attention_2", "flash_attention_3", "sdpa_nocudnn")
    assert m["memory_plan"]["checkpointing"] == "off"  # a tiny model fits any card
    assert m["tokens_per_second_steady"] > 0


def test_partial_checkpointing_on_cuda(setup, tmp_path):
    from tests.train.test_trainer_plan import budget_between

    m = run(setup, tmp_path, memory_gib=budget_between(setup[0], 512, weight_bytes=2, act_bytes=2))
    assert m["memory_plan"]["checkpointing"] in ("partial", "on")
    assert m["checkpointed_layers"] >= 1
    assert m["valid_loss"] < m["base_valid_loss"]


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
    assert m["checkpointed_layers"] == 2
    assert m["valid_loss"] < m["base_valid_loss"]
