"""Attention over packed rows: every implementation equals eager attention (forward and gradients) on the CPU, the
CUDA varlen kernel's adapter builds the right call for each installed signature, and `auto` picks per device."""

import inspect
from itertools import pairwise

import pytest
import torch

from clonekit.errors import ClonekitError
from clonekit.train import attention
from clonekit.train.attention_choice import AttentionFacts, attention_facts, choose_attention
from clonekit.train.dataset import padding_free_collator

LENGTHS = [7, 1, 19, 12, 3]  # a one-token chat too (no causal mask to apply)


def _segments(cu):
    return list(pairwise(cu.tolist()))


def reference_varlen(
    query,
    key,
    value,
    cu_seq_q,
    cu_seq_k,
    max_q,
    max_k,
    *,
    return_aux=None,
    scale=None,
    window_size=(-1, -1),
    enable_gqa=False,
):
    """torch 2.12+'s varlen_attn signature, computed per chat with SDPA: what the CUDA kernel computes. It checks
    what the kernel requires of its inputs."""
    assert query.dim() == 3  # (T, H, D)
    assert query.is_contiguous()
    assert key.is_contiguous()
    assert cu_seq_q.dtype == torch.int32
    assert torch.equal(cu_seq_q, cu_seq_k)
    assert max_q == max_k == int(cu_seq_q.diff().max())
    assert tuple(window_size) == (-1, 0), "causal attention is window_size=(-1, 0)"
    assert enable_gqa == (key.shape[1] != query.shape[1])
    out = []
    for s, e in _segments(cu_seq_q):
        q, k, v = (t[s:e].transpose(0, 1) for t in (query, key, value))  # (H, L, D)
        out.append(
            torch.nn.functional.scaled_dot_product_attention(
                q, k, v, is_causal=True, scale=scale, enable_gqa=enable_gqa
            ).transpose(0, 1)
        )
    return torch.cat(out)


def reference_varlen_2_10(query, key, value, cu_seq_q, cu_seq_k, max_q, max_k, is_causal=False, return_aux=None):
    """The first released signature (torch 2.10 docs): is_causal, no scale, no GQA (KV heads repeated by the
    caller)."""
    assert is_causal
    assert key.shape[1] == query.shape[1]
    return reference_varlen(query, key, value, cu_seq_q, cu_seq_k, max_q, max_k, window_size=(-1, 0))


def tiny_model(attn: str, seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    attention.register()
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=300,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,  # GQA, as Llama 3 and SmolLM2
        head_dim=32,
        attn_implementation=attn,
    )
    return LlamaForCausalLM(config).to(torch.float32)


def packed_batch(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    ids = [torch.randint(3, 300, (n,), generator=g).tolist() for n in LENGTHS]
    labels = [[-100] + x[1:] for x in ids]
    row = {"input_ids": sum(ids, []), "labels": sum(labels, []), "seq_lengths": LENGTHS}
    return padding_free_collator(0)([row])


def loss_and_grads(model, batch):
    model.zero_grad()
    out = model(**batch, use_cache=False)
    out.loss.backward()
    return out.logits.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_eager_reference_attends_within_each_chat():
    """The reference itself: eager over the packed row equals each chat run alone."""
    model = tiny_model("eager").eval()
    batch = packed_batch()
    with torch.no_grad():
        # use_cache=False: with a KV cache transformers builds no block-diagonal mask from position_ids
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits
        for s, e in _segments(batch["cu_seq_lens_q"]):
            alone = model(input_ids=batch["input_ids"][:, s:e], use_cache=False).logits
            torch.testing.assert_close(packed[:, s:e], alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    ("name", "kernel"),
    [
        (attention.VARLEN_SDPA, None),
        (attention.SDPA_NOCUDNN, None),
        (attention.VARLEN_ATTN, reference_varlen),
        (attention.VARLEN_ATTN, reference_varlen_2_10),
    ],
)
def test_forward_and_gradients_equal_eager(name, kernel, monkeypatch):
    monkeypatch.setattr(attention, "_kernel", kernel)
    monkeypatch.setattr(attention, "KERNEL_DTYPES", ("float32",))  # the reference kernel computes in fp32
    calls = []
    if kernel is not None:

        def counting(*args, **kwargs):
            calls.append(args[0].shape)
            return kernel(*args, **kwargs)

        counting.__signature__ = inspect.signature(kernel)  # type: ignore[attr-defined]
        attention._parameters.cache_clear()
        monkeypatch.setattr(attention, "_kernel", counting)
    batch = packed_batch()
    eager_logits, eager_grads = loss_and_grads(tiny_model("eager"), batch)
    logits, grads = loss_and_grads(tiny_model(name), batch)
    torch.testing.assert_close(logits, eager_logits, atol=1e-5, rtol=1e-4)
    assert grads.keys() == eager_grads.keys()
    for n, g in grads.items():
        torch.testing.assert_close(g, eager_grads[n], atol=1e-5, rtol=1e-4, msg=n)
    if kernel is not None:  # one call per layer over the whole row, never one per chat
        assert calls == [torch.Size([sum(LENGTHS), 4, 32])] * 2


def test_varlen_attn_leaves_fp32_to_sdpa(monkeypatch):
    """fp32 weights under bf16 autocast give fp32 q/k (RoPE): FlashAttention cannot take them."""
    monkeypatch.setattr(attention, "_kernel", lambda *a, **k: pytest.fail("kernel called with fp32 inputs"))
    batch = packed_batch()
    logits, _ = loss_and_grads(tiny_model(attention.VARLEN_ATTN), batch)
    eager_logits, _ = loss_and_grads(tiny_model("eager"), batch)
    torch.testing.assert_close(logits, eager_logits, atol=1e-5, rtol=1e-4)


def test_varlen_attn_without_bounds_is_sdpa(monkeypatch):
    """Generation and padded batches (DPO) carry no chat bounds: the kernel is not called."""
    monkeypatch.setattr(attention, "_kernel", lambda *a, **k: pytest.fail("kernel called without bounds"))
    model, eager = tiny_model(attention.VARLEN_ATTN).eval(), tiny_model("eager").eval()
    ids = torch.randint(3, 300, (2, 9))
    mask = torch.ones_like(ids)
    mask[1, :3] = 0  # left padding
    with torch.no_grad():
        got = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
        want = eager(input_ids=ids, attention_mask=mask, use_cache=False).logits
    real = mask.bool()  # padded positions attend to nothing: their outputs are meaningless in any implementation
    torch.testing.assert_close(got[real], want[real], atol=1e-5, rtol=1e-4)


def facts(device="cuda", dtype="bfloat16", cap=(9, 0), varlen=True, fa2=False, fa3=False, version="2.11.0+cu130"):
    return AttentionFacts(
        device=device,
        compute_dtype=dtype,
        torch_version=version,
        capability=cap if device == "cuda" else None,
        has_varlen_attn=varlen,
        has_flash_attn=fa2,
        has_flash_attn3=fa3,
    )


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        (facts(device="cpu", dtype="float32"), "varlen_sdpa"),
        (facts(device="cpu", dtype="bfloat16"), "varlen_sdpa"),
        (facts(), "varlen_attn"),  # H100/H200, torch 2.10+
        (facts(cap=(8, 9)), "varlen_attn"),  # RTX 4090
        (facts(cap=(8, 6), dtype="float16"), "varlen_attn"),  # RTX 3090, fp16
        (facts(varlen=False, fa2=True, fa3=True), "flash_attention_3"),  # Hopper, torch < 2.10
        (facts(cap=(8, 0), varlen=False, fa2=True, fa3=True), "flash_attention_2"),  # A100: FA3 is Hopper-only
        (facts(cap=(8, 0), varlen=False, fa3=True), "sdpa_nocudnn"),
        (facts(varlen=False), "sdpa_nocudnn"),  # torch < 2.10, no flash-attn
        (facts(cap=(7, 5)), "sdpa_nocudnn"),  # T4 / RTX 20xx: no FlashAttention-2
        (facts(dtype="float32"), "sdpa_nocudnn"),  # `mixed_precision: no`: flash kernels are bf16/fp16 only
    ],
)
def test_auto_chooses_per_device(machine, expected):
    choice = choose_attention("auto", machine)
    assert choice.name == expected
    assert choice.reason


def test_a_request_that_cannot_run_here_is_one_clear_error():
    with pytest.raises(ClonekitError, match="CUDA kernels only"):
        choose_attention("varlen_attn", facts(device="cpu"))
    with pytest.raises(ClonekitError, match="needs 2.10"):
        choose_attention("varlen_attn", facts(varlen=False, version="2.9.1"))
    with pytest.raises(ClonekitError, match="flash_attn package is not installed"):
        choose_attention("flash_attention_2", facts())
    with pytest.raises(ClonekitError, match="compute capability 8.0"):
        choose_attention("flash_attention_2", facts(cap=(7, 5), fa2=True))
    assert choose_attention("sdpa", facts()).reason == "set in the config"
    assert choose_attention("varlen_sdpa", facts()).name == "varlen_sdpa"  # allowed, if slow, on CUDA


def test_this_machine():
    """The facts read here (no GPU): torch 2.13 has varlen_attn, and the CPU still loops over chats."""
    here = attention_facts("cpu", "float32")
    assert here.device == "cpu"
    assert here.capability is None
    assert here.has_varlen_attn == (attention.torch_varlen_kernel() is not None)
    assert choose_attention("auto", here).name == "varlen_sdpa"
