"""Real training steps on a tiny random Llama (same tokenizer as the default model)."""

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
import torch

from clonekit.config import TrainConfig
from clonekit.errors import ClonekitError
from clonekit.train import merge, train
from clonekit.train.tiny import make_tiny_model
from tests.helpers import sample_dataset

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return sample_dataset(tmp_path_factory.mktemp("data"))


def cfg(tiny, **kw):
    base = dict(base=str(tiny), max_seq_len=256, row_tokens=512, max_steps=4, eval_every=2, learning_rate=1e-3, seed=0)
    return TrainConfig(**{**base, **kw})


def test_train_writes_the_adapter_directory(trained_clone):
    """The quick run's one training run (tests/helpers.train_tiny_clone: 3 steps, eval every 3)."""
    run = trained_clone[0]
    for name in (
        "adapter_config.json",
        "adapter_model.safetensors",
        "tokenizer.json",
        "chat_template.jinja",
        "clonekit.json",
    ):
        assert (run / name).exists(), name
    manifest = json.loads((run / "clonekit.json").read_text())
    m = manifest["metrics"]
    assert m["steps"] == 3
    assert m["valid_loss"] > 0
    assert m["base_valid_loss"] > 0
    assert m["tokens_per_second"] > 0
    # throughput counts the training rows only: 3 steps of one packed row of at most 512 tokens
    assert 0 < m["train_tokens_this_run"] <= 3 * 512
    assert m["train_rows"] >= 3
    assert manifest["base"]["sha256"]
    assert manifest["dataset"]["manifest_sha256"]
    assert manifest["dataset"]["target"] == "Deniz"
    assert manifest["end_of_turn"] == "<|im_end|>"
    # the server gets the very template training used
    assert (run / "chat_template.jinja").read_text() == (
        resources.files("clonekit.templates") / "chatml-names.jinja"
    ).read_text()
    assert list((run / "checkpoints").glob("checkpoint-*"))


@pytest.mark.slow
def test_training_lowers_the_validation_loss(tiny, dataset, tmp_path):
    run = train(
        cfg(tiny, max_steps=25, eval_every=25, learning_rate=3e-3),
        dataset,
        tmp_path / "run",
        show_progress=False,
        log=lambda s: None,
    )
    m = json.loads((run / "clonekit.json").read_text())["metrics"]
    assert m["valid_loss"] < m["base_valid_loss"]


@pytest.mark.slow
def test_resume_continues_from_the_last_checkpoint(tiny, dataset, tmp_path):
    out = tmp_path / "run"
    train(cfg(tiny, max_steps=2), dataset, out, show_progress=False, log=lambda s: None)
    assert (out / "checkpoints/checkpoint-2").exists()
    with pytest.raises(ClonekitError, match="--resume"):
        train(cfg(tiny, max_steps=4), dataset, out, show_progress=False, log=lambda s: None)
    train(cfg(tiny, max_steps=4), dataset, out, resume=True, show_progress=False, log=lambda s: None)
    m = json.loads((out / "clonekit.json").read_text())["metrics"]
    assert m["steps"] == 4
    assert (
        m["train_tokens_this_run"]
        < json.loads((out / "clonekit.json").read_text())["metrics"]["train_target_tokens"] * 10
    )
    with pytest.raises(ClonekitError, match="no checkpoint"):
        train(cfg(tiny), dataset, tmp_path / "fresh", resume=True, show_progress=False, log=lambda s: None)


@pytest.mark.slow
@pytest.mark.parametrize("tear", ["state", "optimizer"])
def test_resume_after_a_torn_checkpoint_falls_back_to_the_last_complete_one(tiny, dataset, tmp_path, tear):
    out = tmp_path / "run"
    train(
        cfg(tiny, max_steps=4, eval_every=2, save_total_limit=3, early_stopping_patience=0),
        dataset,
        out,
        show_progress=False,
        log=lambda s: None,
    )
    whole = json.loads((out / "clonekit.json").read_text())["metrics"]["train_loss"]
    newest = out / "checkpoints/checkpoint-4"
    if tear == "state":  # killed before trainer_state.json was written
        (newest / "trainer_state.json").unlink()
    else:  # killed while optimizer.pt was being written
        data = (newest / "optimizer.pt").read_bytes()
        (newest / "optimizer.pt").write_bytes(data[: len(data) // 2])
    said = []
    train(
        cfg(tiny, max_steps=4, eval_every=2, save_total_limit=3, early_stopping_patience=0),
        dataset,
        out,
        resume=True,
        show_progress=False,
        log=said.append,
    )
    assert any("skipping checkpoint-4" in s for s in said)
    m = json.loads((out / "clonekit.json").read_text())["metrics"]
    assert m["steps"] == 4
    # the loss covers the whole run (steps 1-4), not this run's two steps spread over four
    assert m["train_loss"] == pytest.approx(whole, rel=0.05)


def test_merge_matches_the_adapter(trained_clone, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    run, tiny, _ = trained_clone
    merged_dir = merge(run, tmp_path / "merged")
    ids = torch.tensor([[1, 9690, 198, 28120, 2, 198, 1, 520, 9531, 198]])
    with torch.no_grad():
        adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny), str(run)).eval()(ids).logits
        merged = AutoModelForCausalLM.from_pretrained(merged_dir).eval()(ids).logits
        plain = AutoModelForCausalLM.from_pretrained(tiny).eval()(ids).logits
    torch.testing.assert_close(merged, adapted, atol=1e-4, rtol=1e-4)
    assert (adapted - plain).abs().max() > 1e-4  # the adapter did change the model
    assert (merged_dir / "chat_template.jinja").exists()


@pytest.mark.slow
def test_qlora_on_the_cpu_trains_an_adapter_without_saving_the_quantized_base(tiny, dataset, tmp_path):
    """NF4 through bitsandbytes on the CPU. The run writes LoRA weights only (no 4-bit base, in the adapter or
    in any checkpoint), and the adapter loads on the full-precision base in HF (vLLM: tests/serve/test_server.py)."""
    from peft import PeftModel
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM

    run = train(
        cfg(tiny, quantization="nf4", max_steps=3, learning_rate=1e-2),
        dataset,
        tmp_path / "run",
        show_progress=False,
        log=lambda s: None,
    )
    m = json.loads((run / "clonekit.json").read_text())["metrics"]
    assert m["quantization"] == "nf4"
    assert m["valid_loss"] < m["base_valid_loss"]
    for weights in run.rglob("*.safetensors"):
        with safe_open(str(weights), "pt") as f:
            keys = list(f.keys())
        assert keys, weights
        assert all("lora_" in k for k in keys), (weights, keys[:5])
    assert not [p for p in run.rglob("*") if p.name.startswith(("model", "pytorch_model"))]
    ids = torch.tensor([[1, 9690, 198, 28120, 2, 198, 1, 520, 9531, 198]])
    with torch.no_grad():
        plain = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32).eval()(ids).logits
        adapted = (
            PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32), str(run))
            .eval()(ids)
            .logits
        )
    assert (adapted - plain).abs().max() > 1e-4


@pytest.mark.slow
def test_bf16_autocast_on_the_cpu(tiny, dataset, tmp_path):
    from clonekit.train.model import bf16_problem

    if bf16_problem("cpu"):
        pytest.skip(f"this CPU: {bf16_problem('cpu')}")
    run = train(
        cfg(tiny, mixed_precision="bf16", max_steps=3, learning_rate=1e-2),
        dataset,
        tmp_path / "run",
        show_progress=False,
        log=lambda s: None,
    )
    m = json.loads((run / "clonekit.json").read_text())["metrics"]
    assert m["bf16_autocast"]
    assert m["dtype"] == "bfloat16"
    assert m["valid_loss"] < m["base_valid_loss"]


@pytest.mark.slow
def test_fp32_when_asked(tiny, dataset, tmp_path):
    run = train(
        cfg(tiny, mixed_precision="no", max_steps=1), dataset, tmp_path / "run", show_progress=False, log=lambda s: None
    )
    assert json.loads((run / "clonekit.json").read_text())["metrics"]["bf16_autocast"] is False


def test_qlora_where_bitsandbytes_cannot_run_is_a_clear_error(tiny, dataset, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # `import bitsandbytes` raises ImportError
    with pytest.raises(ClonekitError, match="QLoRA .* cannot run here: bitsandbytes is not usable"):
        train(cfg(tiny, quantization="nf4"), dataset, tmp_path / "run", show_progress=False, log=lambda s: None)


def test_bf16_on_a_cpu_without_it_is_a_clear_error(tiny, dataset, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    for kw in ({"mixed_precision": "bf16"}, {"dtype": "bfloat16"}):
        with pytest.raises(ClonekitError, match="bf16 requested .* this CPU has no bf16 support"):
            train(cfg(tiny, **kw), dataset, tmp_path / "run", show_progress=False, log=lambda s: None)
    # and `auto` quietly stays in fp32 there
    run = train(cfg(tiny, max_steps=1), dataset, tmp_path / "run", show_progress=False, log=lambda s: None)
    assert json.loads((run / "clonekit.json").read_text())["metrics"]["bf16_autocast"] is False


@pytest.mark.parametrize(
    "kw,needle",
    [
        ({"base": "no/such-model-here"}, "unknown base model"),
        ({"base": "./not-a-dir-or-hub"}, "unknown base model"),
    ],
)
def test_clear_errors(tiny, dataset, tmp_path, kw, needle, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ClonekitError, match=needle):
        train(cfg(tiny, **kw), dataset, tmp_path / "run", show_progress=False, log=lambda s: None)


def test_not_a_dataset_dir(tiny, tmp_path):
    with pytest.raises(ClonekitError, match="not a dataset directory"):
        train(cfg(tiny), tmp_path, tmp_path / "run", show_progress=False, log=lambda s: None)


@pytest.mark.slow
def test_ddp_with_two_cpu_processes(tiny, dataset, tmp_path):
    """Data-parallel training, two CPU processes with gloo. Launched with torch.distributed.run, which is
    what `accelerate launch` (configs/accelerate/ddp.yaml) runs for multi-GPU; accelerate's own CPU
    launcher starts a single process unless MPI is set up."""
    config = tmp_path / "train.yaml"
    config.write_text(f"base: {tiny}\nmax_seq_len: 256\nrow_tokens: 512\nmax_steps: 2\neval_every: 2\nthreads: 1\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "clonekit.cli",
            "train",
            "--config",
            str(config),
            "--data",
            str(dataset),
            "--out",
            str(tmp_path / "run"),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    m = json.loads((tmp_path / "run/clonekit.json").read_text())["metrics"]
    assert m["world_size"] == 2
    assert m["steps"] == 2


def test_negated_adapter_on_the_merged_model_gives_back_the_base(trained_clone, tmp_path, monkeypatch):
    """What `clonekit serve --merged` serves: the merged clone, and the base as a negated adapter."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from clonekit.serve.merged import merged_dirs

    monkeypatch.setenv("CLONEKIT_CACHE", str(tmp_path / "cache"))
    run, tiny, _ = trained_clone
    model_dir, negated = merged_dirs(run)
    ids = torch.tensor([[1, 9690, 198, 28120, 2, 198, 1, 520, 9531, 198]])
    with torch.no_grad():
        base = AutoModelForCausalLM.from_pretrained(tiny).eval()(ids).logits
        back = (
            PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model_dir), str(negated)).eval()(ids).logits
        )
        clone = AutoModelForCausalLM.from_pretrained(model_dir).eval()(ids).logits
    torch.testing.assert_close(back, base, atol=1e-4, rtol=1e-4)
    assert (clone - base).abs().max() > 1e-3


@pytest.mark.slow
def test_one_qlora_step_on_the_bundled_model(dataset, tmp_path):
    """configs/cpu-qlora.yaml, one optimizer step: the bundled model as 4-bit NF4 on the CPU."""
    from clonekit.config import load_config

    config = load_config(TrainConfig, ROOT / "configs" / "cpu-qlora.yaml", max_steps=1)
    run = train(
        config.model_copy(update={"max_seq_len": 256, "row_tokens": 256}),
        dataset,
        tmp_path / "run",
        show_progress=False,
        log=lambda s: None,
    )
    m = json.loads((run / "clonekit.json").read_text())["metrics"]
    assert m["steps"] == 1
    assert m["quantization"] == "nf4"
    assert m["train_loss"] > 0
    assert (run / "adapter_model.safetensors").stat().st_size < 20 * 2**20  # LoRA only, never the 4-bit base
