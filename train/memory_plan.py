"""The memory plan of a run: how much memory training will take, and how much activation checkpointing that needs.

Decided before any weight loads, from the model's config.json, the tokens per row, the method and the device's
free memory (or `memory_gib`, to plan for a smaller card than the one at hand, or a limit on the CPU):
- no checkpointing when every layer's activations fit (the backward recomputes nothing: about 25% fewer FLOPs);
- partial checkpointing in between: the first layers checkpointed, the last ones not, as many as fit;
- checkpointing everywhere when only that fits;
- a plan that cannot fit even so is one clear error, before the weights load, not an OOM after minutes.

The estimate counts, for a Llama-style decoder (the architectures clonekit trains: Llama, Qwen2, Mistral...):
- weights: bf16/fp32 bytes per parameter, NF4 (double quantization) 0.516 bytes per linear weight with the
  embeddings and norms kept in the weights' dtype (train/model.py does not upcast them to fp32);
- the LoRA parameters with their fp32 gradient and AdamW moments: 16 bytes each;
- activations per token and layer, what autograd keeps for the backward: the RMSNorms' fp32 inputs, q/k/v before
  and after RoPE, the attention output, the MLP's gate, up, SiLU and product; a checkpointed layer keeps only its
  input. While a checkpointed layer's backward runs, one layer's full activations are live again;
- a few hidden-size fp32 buffers per token (embedding output, gradients in flight) and a fixed workspace.
Checked against an H200 (TRL's fused LM head, 4,096-token rows, checkpointing everywhere): Llama-3.1-8B shape
17.6 GiB measured, 17.8 estimated; Llama-3.2-1B shape 3.3 measured, 3.5 estimated.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from clonekit.config import TrainConfig
from clonekit.errors import ClonekitError

GIB = 2**30
NF4_BYTES = 0.516  # 4 bits + the double-quantized absmax per 64-weight block (bitsandbytes 0.50: 8B shape in 5.3 GiB)
LORA_STATE_BYTES = 16  # fp32 parameter + gradient + two AdamW moments
WORKSPACE = 0.25 * GIB  # kernels' workspaces, the fused LM head's tiles, the optimizer step's temporaries
FREE_SHARE = 0.9  # of the device's free memory: the caching allocator reserves more than it allocates
LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class ModelShape:
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied: bool

    @property
    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) features of each decoder layer's linear layers."""
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        h, i = self.hidden, self.intermediate
        return {
            "q_proj": (h, q),
            "k_proj": (h, kv),
            "v_proj": (h, kv),
            "o_proj": (q, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    @property
    def linear_params(self) -> int:
        return self.layers * sum(a * b for a, b in self.linear_shapes.values())

    @property
    def other_params(self) -> int:
        """Embeddings, the LM head (unless tied) and the norms."""
        return self.vocab * self.hidden * (1 if self.tied else 2) + (2 * self.layers + 1) * self.hidden

    @property
    def params(self) -> int:
        return self.linear_params + self.other_params


def shape_of(config: Any) -> ModelShape | None:
    """The decoder's shape from a transformers config (or its dict), or None for an architecture without the
    Llama-style fields (no estimate then)."""

    def get(key: str, default: Any = None) -> Any:
        return config.get(key, default) if isinstance(config, dict) else getattr(config, key, default)

    try:
        heads = int(get("num_attention_heads"))
        hidden = int(get("hidden_size"))
        return ModelShape(
            layers=int(get("num_hidden_layers")),
            hidden=hidden,
            intermediate=int(get("intermediate_size")),
            heads=heads,
            kv_heads=int(get("num_key_value_heads") or heads),
            head_dim=int(get("head_dim") or hidden // heads),
            vocab=int(get("vocab_size")),
            tied=bool(get("tie_word_embeddings", False)),
        )
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Budget:
    bytes: float
    source: str  # where the limit comes from, for the plan's line


@dataclass(frozen=True)
class MemoryPlan:
    checkpointing: str  # "off", "partial" or "on"
    checkpointed_layers: int  # the first N decoder layers are checkpointed
    layers: int
    estimate_gib: float
    weights_gib: float
    lora_gib: float
    activations_gib: float
    budget_gib: float | None
    budget_source: str
    summary: str  # "8.0B LoRA, 2,048 tokens/row"

    @property
    def enabled(self) -> bool:
        return self.checkpointed_layers > 0

    def line(self) -> str:
        ckpt = {
            "off": "no checkpointing",
            "on": "checkpointing every layer",
            "partial": f"checkpointing {self.checkpointed_layers} of {self.layers} layers",
        }[self.checkpointing]
        budget = f"; {self.budget_source}" if self.budget_source else ""
        return (
            f"memory plan: {self.summary}: about {self.estimate_gib:.1f} GiB peak (weights {self.weights_gib:.1f}, "
            f"LoRA and optimizer {self.lora_gib:.1f}, activations {self.activations_gib:.1f}), {ckpt}{budget}"
        )

    def as_dict(self) -> dict:
        return asdict(self)


def lora_params(shape: ModelShape, cfg: TrainConfig) -> int:
    r = cfg.lora.r
    return shape.layers * sum(r * (a + b) for n, (a, b) in shape.linear_shapes.items() if n in _targets(cfg))


def activation_bytes(shape: ModelShape, act: int, cfg: TrainConfig) -> int:
    """Bytes autograd keeps per token for one decoder layer that is not checkpointed (`act`: bytes per element of
    the compute dtype)."""
    h, q, kv = shape.hidden, shape.heads * shape.head_dim, shape.kv_heads * shape.head_dim
    norms = 2 * (4 * h + act * h)  # fp32 input copy and normalized output, twice
    attention = act * (q + 2 * kv) + act * (q + kv) + act * q + 4 * shape.heads  # qkv, after RoPE, output, lse
    mlp = 4 * act * shape.intermediate  # gate, up, SiLU(gate), product
    dropout = 0
    if cfg.lora.dropout > 0:  # each adapted linear keeps its own dropped copy of its input, and the mask
        dropout = sum((act + 1) * a for n, (a, _) in shape.linear_shapes.items() if n in _targets(cfg))
    return norms + attention + mlp + dropout


def _targets(cfg: TrainConfig) -> tuple[str, ...]:
    targets = cfg.lora.target_modules
    return LINEARS if targets == "all-linear" else tuple(t for t in LINEARS if t in targets)


def estimate(
    shape: ModelShape, cfg: TrainConfig, tokens: int, weight_bytes: int, act_bytes: int, checkpointed: int
) -> tuple[float, float, float]:
    """(weights, LoRA state, activations) in bytes with the first `checkpointed` layers checkpointed."""
    if cfg.quantization == "nf4":
        weights = shape.linear_params * NF4_BYTES + shape.other_params * weight_bytes
    else:
        weights = shape.params * weight_bytes
    lora = lora_params(shape, cfg) * LORA_STATE_BYTES
    full = activation_bytes(shape, act_bytes, cfg)
    kept = checkpointed * weight_bytes * shape.hidden + (shape.layers - checkpointed) * full
    replay = full if checkpointed else 0  # one checkpointed layer's activations, live again in its backward
    misc = 4 * 4 * shape.hidden  # fp32 hidden-size buffers: embedding output, gradients in flight
    return weights, lora, tokens * (kept + replay + misc) + WORKSPACE


def plan_memory(
    shape: ModelShape,
    cfg: TrainConfig,
    tokens: int,
    weight_bytes: int,
    act_bytes: int,
    budget: Budget | None,
) -> MemoryPlan:
    """The plan for `tokens` per forward (a packed row) under `budget` (None: no limit known, the CPU without
    `memory_gib`, where `auto` means no checkpointing)."""
    method = "QLoRA" if cfg.quantization == "nf4" else "LoRA"
    summary = f"{shape.params / 1e9:.1f}B {method}, {tokens:,} tokens/row"

    def plan(checkpointed: int, mode: str) -> MemoryPlan:
        w, lora, act = estimate(shape, cfg, tokens, weight_bytes, act_bytes, checkpointed)
        return MemoryPlan(
            checkpointing=mode,
            checkpointed_layers=checkpointed,
            layers=shape.layers,
            estimate_gib=(w + lora + act) / GIB,
            weights_gib=w / GIB,
            lora_gib=lora / GIB,
            activations_gib=act / GIB,
            budget_gib=budget.bytes / GIB if budget else None,
            budget_source=budget.source if budget else "",
            summary=summary,
        )

    def fits(p: MemoryPlan) -> bool:
        return budget is None or p.estimate_gib * GIB <= budget.bytes

    everywhere, nowhere = plan(shape.layers, "on"), plan(0, "off")
    if cfg.gradient_checkpointing == "on":
        chosen = everywhere
    elif cfg.gradient_checkpointing == "off" or fits(nowhere):  # fits(...) is True without a budget
        chosen = nowhere
    elif not fits(everywhere):
        chosen = everywhere
    else:  # the fewest checkpointed layers that fit (each layer left alone saves its recompute)
        partial = (plan(n, "partial") for n in range(1, shape.layers))
        chosen = next((p for p in partial if fits(p)), everywhere)
    if not fits(chosen):
        raise ClonekitError(_too_big(chosen, everywhere, cfg))
    return chosen


def _too_big(chosen: MemoryPlan, everywhere: MemoryPlan, cfg: TrainConfig) -> str:
    advice = []
    if chosen.checkpointing != "on":
        advice.append(f"`gradient_checkpointing: auto` (about {everywhere.estimate_gib:.1f} GiB)")
    advice.append("a smaller `row_tokens` (activations scale with it)")
    if cfg.quantization != "nf4":
        advice.append("QLoRA (`quantization: nf4`, configs/gpu-8b-qlora-12gb.yaml)")
    return (
        f"{chosen.line()}: this does not fit in {chosen.budget_gib:.1f} GiB. Try " + ", or ".join(advice) + " "
        "(set `memory_gib` if the estimate is wrong for this card)"
    )


def device_budget(cfg: TrainConfig, device: str) -> Budget | None:
    """What the plan may use: the CUDA device's free memory (less the allocator's slack), capped by `memory_gib`.
    On the CPU only `memory_gib`, when set (RAM is shared with everything else, so no limit is read from it)."""
    limit = cfg.memory_gib * GIB if cfg.memory_gib is not None else None
    if device != "cuda":
        return Budget(limit, f"planned for {cfg.memory_gib:g} GiB (memory_gib)") if limit else None
    import torch

    free, total = torch.cuda.mem_get_info()
    name = torch.cuda.get_device_name()
    if limit is not None and limit < free * FREE_SHARE:
        return Budget(limit, f"planned for {cfg.memory_gib:g} GiB (memory_gib); {name} has {free / GIB:.1f} GiB free")
    return Budget(free * FREE_SHARE, f"{name} has {free / GIB:.1f} of {total / GIB:.1f} GiB free")


def plan_for_run(cfg: TrainConfig, model_config: Any, device: str, tokens: int, weight_bytes: int, act_bytes: int):
    """The plan, or None where the architecture has no Llama-style shape (no estimate: checkpointing as before
    plans, on for CUDA)."""
    shape = shape_of(model_config)
    if shape is None:
        return None
    return plan_memory(shape, cfg, tokens, weight_bytes, act_bytes, device_budget(cfg, device))


def apply_checkpointing(model, plan: MemoryPlan | None, device: str) -> bool:
    """Turn activation checkpointing on for the plan's first N decoder layers (all of them when there is no plan
    and the device is CUDA, as before plans). Returns whether any layer is checkpointed. Partial checkpointing
    switches the flag transformers' GradientCheckpointingLayer reads, per layer."""
    if plan is None:
        wanted = None if device == "cuda" else 0
    else:
        wanted = plan.checkpointed_layers
    if wanted == 0:
        return False
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.enable_input_require_grads()
    if wanted is not None:
        layers = decoder_layers(model)
        for index, layer in enumerate(layers):
            layer.gradient_checkpointing = index < wanted
    return True


def decoder_layers(model) -> list:
    """The model's decoder layers, in order (transformers' GradientCheckpointingLayer instances)."""
    from transformers.modeling_layers import GradientCheckpointingLayer

    return [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]


def checkpointed_count(model) -> int:
    return sum(bool(layer.gradient_checkpointing) for layer in decoder_layers(model))
