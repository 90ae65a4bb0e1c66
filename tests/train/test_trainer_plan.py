"""`clonekit train` with the memory plan: a limit between "every layer checkpointed" and "none" trains with some
layers checkpointed (and says so in the manifest); a limit nothing fits in is one clear error before loading."""

import json

import pytest
from typer.testing import CliRunner

from clonekit.cli import app
from clonekit.config import TrainConfig
from clonekit.train.memory_plan import plan_memory, shape_of
from tests.helpers import sample_dataset


def budget_between(model_dir, tokens: int, weight_bytes: int = 4, act_bytes: int = 4) -> float:
    """A memory_gib halfway between the tiny model's plans with every layer checkpointed and with none."""
    from transformers import AutoConfig

    shape = shape_of(AutoConfig.from_pretrained(model_dir))
    on, off = (
        plan_memory(shape, TrainConfig(gradient_checkpointing=mode), tokens, weight_bytes, act_bytes, None)
        for mode in ("on", "off")
    )
    assert on.estimate_gib < off.estimate_gib
    return (on.estimate_gib + off.estimate_gib) / 2


@pytest.fixture(scope="module")
def tiny_and_data(tmp_path_factory):
    from clonekit.train.tiny import make_tiny_model

    d = tmp_path_factory.mktemp("plan")
    return make_tiny_model(d / "tiny", layers=4), sample_dataset(d, weeks=1)


@pytest.mark.slow
def test_a_limit_between_trains_with_partial_checkpointing(tiny_and_data, tmp_path):
    from clonekit.train import train

    tiny, ds = tiny_and_data
    lines: list[str] = []
    cfg = TrainConfig(
        base=str(tiny),
        max_seq_len=256,
        row_tokens=512,
        max_steps=2,
        eval_every=2,
        mixed_precision="no",
        dtype="float32",
        memory_gib=budget_between(tiny, 512),
    )
    out = train(cfg, ds, tmp_path / "run", show_progress=False, log=lines.append)
    m = json.loads((out / "clonekit.json").read_text())["metrics"]
    assert m["memory_plan"]["checkpointing"] == "partial"
    assert 0 < m["checkpointed_layers"] < 4
    assert m["checkpointed_layers"] == m["memory_plan"]["checkpointed_layers"]
    assert m["gradient_checkpointing"]
    assert m["attention"] == "varlen_sdpa"
    assert "CPU" in m["attention_reason"]
    assert any(line.startswith("memory plan: ") and "checkpointing" in line for line in lines)
    assert any(line.startswith("attention: varlen_sdpa") for line in lines)


def test_a_limit_nothing_fits_in_is_one_error_before_loading(tiny_and_data, tmp_path, monkeypatch):
    tiny, ds = tiny_and_data
    config = tmp_path / "train.yaml"
    config.write_text(f"base: {tiny}\nmax_seq_len: 256\nrow_tokens: 512\nmemory_gib: 0.01\n")

    def no_loading(*a, **k):
        raise AssertionError("the weights were loaded before the plan was checked")

    monkeypatch.setattr("clonekit.train.trainer.load_model", no_loading)
    result = CliRunner().invoke(
        app, ["train", "--config", str(config), "--data", str(ds), "--out", str(tmp_path / "run"), "--quiet"]
    )
    assert result.exit_code != 0
    assert "memory plan: " in result.output
    assert "does not fit in 0.0 GiB" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "run" / "clonekit.json").exists()
