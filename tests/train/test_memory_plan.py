"""The memory plan: estimates against what was measured on an H200, the checkpointing it chooses for a budget, a
clear error before loading when nothing fits, and partial checkpointing that recomputes exactly the layers it
names and changes no gradient."""

from dataclasses import replace

import pytest
import torch

from clonekit.config import TrainConfig
from clonekit.errors import ClonekitError
from clonekit.train.memory_plan import (
    GIB,
    Budget,
    apply_checkpointing,
    decoder_layers,
    plan_memory,
    shape_of,
)
from clonekit.train.progress import SteadyRate

LLAMA_8B = dict(
    hidden_size=4096,
    intermediate_size=14336,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=8,
    head_dim=128,
    vocab_size=128256,
)
LLAMA_1B = dict(
    hidden_size=2048,
    intermediate_size=8192,
    num_hidden_layers=16,
    num_attention_heads=32,
    num_key_value_heads=8,
    head_dim=64,
    vocab_size=128256,
    tie_word_embeddings=True,
)
LORA = {"r": 16, "alpha": 32, "dropout": 0.0, "target_modules": "all-linear"}


def plan(shape, budget_gib=None, tokens=4096, **cfg):
    budget = Budget(budget_gib * GIB, "test") if budget_gib else None
    return plan_memory(shape_of(shape), TrainConfig(lora=LORA, **cfg), tokens, 2, 2, budget)


def test_parameter_counts_are_the_published_ones():
    assert shape_of(LLAMA_8B).params == pytest.approx(8.03e9, rel=0.01)
    assert shape_of(LLAMA_1B).params == pytest.approx(1.24e9, rel=0.01)
    assert shape_of({"hidden_size": 8}) is None  # not a Llama-style config: no estimate


@pytest.mark.parametrize(
    ("shape", "method", "measured_gib"),
    [(LLAMA_8B, "none", 17.6), (LLAMA_1B, "none", 3.3), (LLAMA_8B, "nf4", 7.6)],
)
def test_estimates_are_near_the_h200_measurements(shape, method, measured_gib):
    """gpu_check rows on an H200 (engines.md): checkpointing everywhere, 4,096-token rows, TRL's fused head."""
    estimate = plan(shape, quantization=method, gradient_checkpointing="on").estimate_gib
    assert estimate == pytest.approx(measured_gib, rel=0.1)


def test_no_checkpointing_where_the_activations_fit():
    p = plan(LLAMA_8B, budget_gib=120)
    assert p.checkpointing == "off"
    assert p.checkpointed_layers == 0
    assert p.estimate_gib < 120


def test_partial_checkpointing_in_between():
    full = plan(LLAMA_8B, gradient_checkpointing="on")
    p = plan(LLAMA_8B, budget_gib=20, tokens=2048)
    assert p.checkpointing == "partial"
    assert 0 < p.checkpointed_layers < 32
    assert p.estimate_gib <= 20
    fewer = plan(LLAMA_8B, budget_gib=20 - 0.5, tokens=2048)
    assert fewer.checkpointed_layers > p.checkpointed_layers  # less memory, more layers checkpointed
    assert full.estimate_gib < p.estimate_gib
    assert "checkpointing" in p.line()
    assert f"{p.checkpointed_layers} of 32 layers" in p.line()


def test_a_plan_that_cannot_fit_is_one_clear_error():
    with pytest.raises(ClonekitError, match="does not fit in 12.0 GiB") as e:
        plan(LLAMA_8B, budget_gib=12)
    assert "QLoRA" in str(e.value)
    assert plan(LLAMA_8B, budget_gib=12, quantization="nf4").estimate_gib <= 12
    with pytest.raises(ClonekitError, match="gradient_checkpointing: auto"):
        plan(LLAMA_8B, budget_gib=30, gradient_checkpointing="off")


def test_the_cpu_without_a_limit_keeps_no_checkpointing():
    assert plan(LLAMA_1B).checkpointing == "off"
    assert plan(LLAMA_1B, gradient_checkpointing="on").checkpointing == "on"


def tiny_llama(layers=4):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=200,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        attn_implementation="sdpa",
    )
    return LlamaForCausalLM(config)


def grads_and_forward_calls(checkpointed: int | None):
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(tiny_llama(), LoraConfig(r=4, target_modules="all-linear", task_type="CAUSAL_LM"))
    if checkpointed is not None:
        p = replace(plan(LLAMA_1B, gradient_checkpointing="on"), checkpointed_layers=checkpointed, layers=4)
        assert apply_checkpointing(model, p, "cpu") == (checkpointed > 0)
    model.train()
    calls = [0] * 4
    for i, layer in enumerate(decoder_layers(model)):
        # a pre-hook: the recompute stops early (non-reentrant checkpointing), before forward hooks would run
        layer.register_forward_pre_hook(lambda *a, i=i: calls.__setitem__(i, calls[i] + 1))
    ids = torch.randint(0, 200, (1, 24))
    model(input_ids=ids, labels=ids, use_cache=False).loss.backward()
    return {n: p.grad for n, p in model.named_parameters() if p.grad is not None}, calls


def test_partial_checkpointing_recomputes_the_first_layers_only_and_changes_no_gradient():
    reference, calls = grads_and_forward_calls(None)
    assert calls == [1, 1, 1, 1]
    grads, calls = grads_and_forward_calls(2)
    assert calls == [2, 2, 1, 1]  # the first two layers run again in the backward, the last two do not
    assert grads.keys() == reference.keys()
    for name, g in grads.items():
        torch.testing.assert_close(g, reference[name], msg=name)
    _, calls = grads_and_forward_calls(0)
    assert calls == [1, 1, 1, 1]


def test_steady_rate_leaves_out_the_first_steps_and_interrupted_ones(monkeypatch):
    clock = iter([0.0, 5.0, 9.0, 12.0, 13.0, 14.0, 24.0, 25.0])  # step starts; steps 1-3 slow, step 5 saved
    monkeypatch.setattr("clonekit.train.trainer.time.perf_counter", lambda: next(clock))
    rate = SteadyRate()
    tokens = 0
    for step in range(8):
        if step == 6:
            rate.interrupted()  # an evaluation or a save during step 6 (the interval 14 -> 24)
        rate.step_begins(tokens)
        tokens += 100
    assert rate.first_seconds == 12.0
    assert rate.tokens == 300  # steps 4, 5 and 7 (one second each)
    assert rate.rate == 100.0
