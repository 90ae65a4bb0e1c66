"""Which attention implementation a run uses, chosen per device (`attn_implementation: auto`).

A speed-up measured on one device is a guess on another: the per-chat SDPA loop (`varlen_sdpa`) made CPU training
2.4x faster and GPU training 4-16x slower (cuDNN builds an execution plan for every new chat length). So the choice
is a pure function of what the machine has (`AttentionFacts`), unit-tested for each device and torch capability,
and the run's manifest records what ran and why.

auto, in order:
- CPU: `varlen_sdpa`, one SDPA call per packed chat (train/attention.py).
- CUDA, compute capability 8.0+ (Ampere or newer) and bf16/fp16 compute:
  1. `varlen_attn`: PyTorch's own variable-length FlashAttention-2 kernel (torch >= 2.10), one call per layer;
  2. `flash_attention_3` (Hopper, the `flash_attn_interface` package) or `flash_attention_2` (`flash_attn`), through
     transformers' own integration, when the user has installed them;
- any other CUDA case: `sdpa_nocudnn`, SDPA over the block-diagonal mask with cuDNN attention turned off.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from clonekit.errors import ClonekitError
from clonekit.train.attention import SDPA_NOCUDNN, VARLEN_ATTN, VARLEN_SDPA

FLASH_2 = "flash_attention_2"
FLASH_3 = "flash_attention_3"
FLASH_DTYPES = ("bfloat16", "float16")


@dataclass(frozen=True)
class AttentionFacts:
    """What the machine offers the choice (read by `attention_facts`, or written by hand in tests)."""

    device: str  # "cpu" or "cuda"
    compute_dtype: str  # the dtype attention runs in: "bfloat16" under bf16 autocast, else the weights'
    torch_version: str
    capability: tuple[int, int] | None = None  # CUDA compute capability, e.g. (9, 0) for an H100/H200
    has_varlen_attn: bool = False  # torch.nn.attention.varlen.varlen_attn exists (torch >= 2.10)
    has_flash_attn: bool = False  # the flash_attn package (FlashAttention-2)
    has_flash_attn3: bool = False  # the flash_attn_interface package (FlashAttention-3, Hopper)


@dataclass(frozen=True)
class AttentionChoice:
    name: str  # what transformers' attn_implementation is set to
    reason: str

    def as_dict(self) -> dict:
        return {"name": self.name, "reason": self.reason}


def attention_facts(device: str, compute_dtype: str) -> AttentionFacts:
    import torch

    from clonekit.train.attention import torch_varlen_kernel

    cuda = device == "cuda"
    return AttentionFacts(
        device=device,
        compute_dtype=compute_dtype,
        torch_version=torch.__version__,
        capability=tuple(torch.cuda.get_device_capability()) if cuda else None,  # type: ignore[arg-type]
        has_varlen_attn=torch_varlen_kernel() is not None,
        has_flash_attn=importlib.util.find_spec("flash_attn") is not None,
        has_flash_attn3=importlib.util.find_spec("flash_attn_interface") is not None,
    )


def choose_attention(requested: str, facts: AttentionFacts) -> AttentionChoice:
    """The implementation for `requested` (a TrainConfig.attn_implementation) on this machine. A request that
    cannot run here is one clear error, before any model loads."""
    if requested != "auto":
        problem = _cannot_run(requested, facts)
        if problem:
            raise ClonekitError(f"attn_implementation: {requested} cannot run here: {problem}; use `auto`")
        return AttentionChoice(requested, "set in the config")
    if facts.device != "cuda":
        return AttentionChoice(
            VARLEN_SDPA, "CPU: one SDPA call per packed chat, no scores across chats (2.4x faster than sdpa on 2 cores)"
        )
    flash_problem = _flash_problem(facts)
    if flash_problem is None:
        if facts.has_varlen_attn:
            return AttentionChoice(
                VARLEN_ATTN,
                f"CUDA {_cap(facts)}, {facts.compute_dtype}: torch {facts.torch_version}'s varlen FlashAttention-2, "
                "one call per layer over the packed row",
            )
        if facts.has_flash_attn3 and facts.capability is not None and facts.capability[0] == 9:
            return AttentionChoice(FLASH_3, f"CUDA {_cap(facts)}: flash-attn 3 is installed, torch has no varlen_attn")
        if facts.has_flash_attn:
            return AttentionChoice(FLASH_2, f"CUDA {_cap(facts)}: flash-attn 2 is installed, torch has no varlen_attn")
        flash_problem = f"torch {facts.torch_version} has no varlen_attn (2.10+) and flash-attn is not installed"
    return AttentionChoice(
        SDPA_NOCUDNN,
        f"CUDA: {flash_problem}; SDPA over the block-diagonal mask with cuDNN attention off "
        "(cuDNN builds a plan for every new chat length)",
    )


def _cap(facts: AttentionFacts) -> str:
    return f"sm{facts.capability[0]}{facts.capability[1]}" if facts.capability else "sm?"


def _flash_problem(facts: AttentionFacts) -> str | None:
    """Why no flash kernel can run on this CUDA device, or None."""
    if facts.capability is None or facts.capability < (8, 0):
        return f"flash kernels need compute capability 8.0+ (Ampere), this GPU is {_cap(facts)}"
    if facts.compute_dtype not in FLASH_DTYPES:
        return f"flash kernels need bf16 or fp16 compute, this run computes in {facts.compute_dtype}"
    return None


def _cannot_run(name: str, facts: AttentionFacts) -> str | None:
    if name == VARLEN_ATTN:
        if facts.device != "cuda":
            return "PyTorch's varlen_attn has CUDA kernels only"
        if not facts.has_varlen_attn:
            return f"torch {facts.torch_version} has no torch.nn.attention.varlen (needs 2.10+)"
        return _flash_problem(facts)
    if name in (FLASH_2, FLASH_3):
        installed = facts.has_flash_attn if name == FLASH_2 else facts.has_flash_attn3
        if facts.device != "cuda":
            return "flash-attention needs a CUDA GPU"
        if not installed:
            return f"the {'flash_attn' if name == FLASH_2 else 'flash_attn_interface'} package is not installed"
        return _flash_problem(facts)
    return None
