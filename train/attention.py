"""Attention over packed rows, one implementation per device (train/attention_choice.py picks one).

A packed row holds several chats (position_ids restart at 0 for each; TRL's padding-free collator also sends the
bounds as `cu_seq_lens_q`, the varlen convention of flash-attention). Attending over the whole row with a
block-diagonal mask computes every T x T score, masked ones included; attending within each chat costs sum(L_i^2).
Three functions, registered with transformers' AttentionInterface (and its mask interface, as sdpa's), so a model
loaded with `attn_implementation=NAME` uses them:

- `varlen_sdpa` (the CPU): one causal SDPA call per chat. On 2 cores attention over the masked row took a third of
  a training step of the bundled model; this made CPU training 2.4x faster. On CUDA it is a trap: PyTorch picks
  cuDNN attention, which builds a new execution plan for every sequence length it has not seen, and chat lengths
  rarely repeat (an H200 trained 4-16x slower than plain HF + PEFT).
- `varlen_attn` (CUDA, Ampere+, bf16/fp16): PyTorch's own variable-length FlashAttention-2 kernel
  (`torch.nn.attention.varlen.varlen_attn`, torch >= 2.10), one call per layer over the whole row. Its signature
  changed between releases (causality as `is_causal` or `window_size=(-1, 0)`; `scale` and `enable_gqa` added
  later), so the call is built from the installed signature.
- `sdpa_nocudnn` (CUDA without those kernels): transformers' sdpa over the block-diagonal mask with the cuDNN
  backend excluded (flash, memory-efficient and math stay), which avoids the per-shape plan builds.

Without bounds (a plain forward, generation, padded DPO batches) every function is exactly transformers' sdpa,
mask included (without cuDNN on CUDA).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import cache
from itertools import pairwise
from typing import Any

VARLEN_SDPA = "varlen_sdpa"
VARLEN_ATTN = "varlen_attn"
SDPA_NOCUDNN = "sdpa_nocudnn"


def _sdpa(module, query, key, value, attention_mask, dropout, scaling, is_causal, **kwargs):
    """transformers' sdpa, with cuDNN attention excluded on CUDA (see the module docstring)."""
    from contextlib import nullcontext

    from torch.nn.attention import SDPBackend, sdpa_kernel
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    backends = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]
    with sdpa_kernel(backends) if query.is_cuda else nullcontext():
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, is_causal=is_causal, **kwargs
        )


def _packed_bounds(query, key, kwargs) -> Any:
    """The row's chat bounds (cu_seq_lens_q, ending at the row's length), or None when this call is not one
    packed row of self-attention (no bounds, a batch of several rows, a KV cache)."""
    bounds = kwargs.get("cu_seq_lens_q")
    if bounds is None or query.shape[0] != 1 or query.shape[2] != key.shape[2]:
        return None
    return bounds


def sdpa_nocudnn_forward(
    module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None, is_causal=None, **kwargs
):
    """query (B, H, T, D), key/value (B, KV, T, D) -> ((B, T, H, D), None): sdpa without cuDNN attention."""
    return _sdpa(module, query, key, value, attention_mask, dropout, scaling, is_causal, **kwargs)


def varlen_sdpa_forward(
    module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None, is_causal=None, **kwargs
):
    """query (B, H, T, D), key/value (B, KV, T, D) -> ((B, T, H, D), None): one causal SDPA call per chat."""
    import torch

    bounds = _packed_bounds(query, key, kwargs)
    if bounds is None:
        return _sdpa(module, query, key, value, attention_mask, dropout, scaling, is_causal, **kwargs)
    groups = getattr(module, "num_key_value_groups", 1)
    cuts = bounds.tolist()
    if cuts[-1] != query.shape[2]:  # padding after the last example (pad_to_multiple_of): one more segment
        cuts = cuts + [query.shape[2]]
    outputs = []
    for start, end in pairwise(cuts):
        if end <= start:
            continue
        outputs.append(
            torch.nn.functional.scaled_dot_product_attention(
                query[:, :, start:end],
                key[:, :, start:end],
                value[:, :, start:end],
                dropout_p=dropout,
                scale=scaling,
                is_causal=end - start > 1,
                enable_gqa=groups > 1,
            )
        )
    return torch.cat(outputs, dim=2).transpose(1, 2).contiguous(), None


def torch_varlen_kernel() -> Callable | None:
    """PyTorch's varlen_attn, or None where the installed torch has none (< 2.10)."""
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:
        return None
    return varlen_attn


_kernel: Callable | None = None  # tests put a reference kernel with the same signature here (CPUs have no flash)
# FlashAttention takes bf16/fp16 only. fp32 q/k reach it when the weights are fp32 under bf16 autocast (RoPE
# multiplies by fp32 cos/sin): those calls go to SDPA.
KERNEL_DTYPES = ("bfloat16", "float16")


@cache
def _parameters(kernel) -> frozenset[str]:
    return frozenset(inspect.signature(kernel).parameters)


def varlen_attn_forward(
    module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None, is_causal=None, **kwargs
):
    """query (1, H, T, D), key/value (1, KV, T, D) -> ((1, T, H, D), None): one FlashAttention-2 varlen call over
    the packed row. Falls back to sdpa_nocudnn where the kernel cannot take the call exactly (no bounds, fp32
    inputs, dropout, a sliding window, a scale the installed kernel cannot be given)."""
    import torch

    kernel = _kernel or torch_varlen_kernel()
    bounds = _packed_bounds(query, key, kwargs)
    params = _parameters(kernel) if kernel is not None else frozenset()
    head_dim = query.shape[-1]
    scale_ok = scaling is None or "scale" in params or abs(scaling - head_dim**-0.5) < 1e-12
    causal_ok = "window_size" in params or "is_causal" in params
    if (
        kernel is None
        or bounds is None
        or str(query.dtype).removeprefix("torch.") not in KERNEL_DTYPES
        or dropout
        or getattr(module, "sliding_window", None)
        or not scale_ok
        or not causal_ok
    ):
        return _sdpa(module, query, key, value, attention_mask, dropout, scaling, is_causal, **kwargs)
    cu = bounds.to(device=query.device, dtype=torch.int32)
    longest = kwargs.get("max_length_q")
    if longest is None:
        longest = int(cu.diff().max())
    q = query[0].transpose(0, 1)  # (T, H, D)
    k = key[0].transpose(0, 1)  # (T, KV, D)
    v = value[0].transpose(0, 1)
    extra: dict[str, Any] = {}
    if "window_size" in params:
        extra["window_size"] = (-1, 0)  # causal
    else:
        extra["is_causal"] = True
    if scaling is not None and "scale" in params:
        extra["scale"] = scaling
    if k.shape[1] != q.shape[1]:
        if "enable_gqa" in params:
            extra["enable_gqa"] = True
        else:  # older kernels want as many KV heads as query heads: repeat them as transformers' repeat_kv does
            groups = q.shape[1] // k.shape[1]
            k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
    # The bounds end at the row's length (TRL's collator counts trailing padding as one more chat); not checked
    # here, since reading a CUDA tensor would stall the GPU queue in every layer.
    out = kernel(q.contiguous(), k.contiguous(), v.contiguous(), cu, cu, longest, longest, **extra)
    return out.unsqueeze(0), None  # (1, T, H, D)


IMPLEMENTATIONS = {
    VARLEN_SDPA: varlen_sdpa_forward,
    VARLEN_ATTN: varlen_attn_forward,
    SDPA_NOCUDNN: sdpa_nocudnn_forward,
}


def register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    for name, function in IMPLEMENTATIONS.items():
        AttentionInterface.register(name, function)
        ALL_MASK_ATTENTION_FUNCTIONS.register(name, sdpa_mask)
