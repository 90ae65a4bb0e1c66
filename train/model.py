"""The model a run trains: the base (full precision, bf16, or 4-bit NF4 for QLoRA) with a LoRA adapter on top,
and the checks that turn an impossible request (QLoRA without a working bitsandbytes, bf16 on a CPU without
bf16) into one clear error before anything loads."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from clonekit.config import TrainConfig
from clonekit.errors import ClonekitError
from clonekit.train.attention_choice import AttentionChoice, attention_facts, choose_attention
from clonekit.train.base_models import BaseModel
from clonekit.train.memory_plan import MemoryPlan, apply_checkpointing, checkpointed_count, plan_for_run


@dataclass
class Precision:
    dtype: object  # torch dtype of the (non-quantized) weights
    bf16_autocast: bool  # compute in bf16 under torch.autocast (the Trainer's bf16=True)


def cpu_has_bf16() -> bool:
    """Native bf16 matrix multiplies on this CPU (AVX512-BF16 or AMX): autocast to bf16 is then faster, not
    just emulated."""
    import torch

    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def bf16_problem(device: str) -> str | None:
    import torch

    if device == "cuda":
        return (
            None if torch.cuda.is_bf16_supported() else "this GPU has no bf16 support (needs compute capability 8.0+)"
        )
    if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return "this CPU has no bf16 support in torch (oneDNN); use `mixed_precision: no` and `dtype: float32`"
    return None


def precision(cfg: TrainConfig, device: str) -> Precision:
    import torch

    wants_bf16 = cfg.mixed_precision == "bf16" or cfg.dtype == "bfloat16"
    if wants_bf16:
        problem = bf16_problem(device)
        if problem:
            raise ClonekitError(
                f"bf16 requested ({'mixed_precision: bf16' if cfg.mixed_precision == 'bf16' else 'dtype: bfloat16'}) "
                f"but {problem}"
            )
    if cfg.mixed_precision == "auto":
        autocast = device == "cuda" or (cpu_has_bf16() and bf16_problem(device) is None)
    else:
        autocast = cfg.mixed_precision == "bf16"
    autocast = autocast or (cfg.quantization == "nf4" and device == "cuda")
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}.get(cfg.dtype)
    if dtype is None:  # auto: the frozen base in bf16 when computing in bf16 (no per-step casts of its weights)
        dtype = torch.bfloat16 if autocast else torch.float32
    return Precision(dtype, autocast)


def qlora_problem(device: str) -> str | None:
    """Why 4-bit NF4 cannot run here, or None: bitsandbytes must import and run a Linear4bit forward on the
    device (bitsandbytes >= 0.48 runs NF4 on the CPU too)."""
    import torch

    try:
        import bitsandbytes as bnb
    except Exception as e:  # ImportError, or a broken native library raising anything
        return f"bitsandbytes is not usable ({type(e).__name__}: {e}); `pip install bitsandbytes`"
    try:
        layer = bnb.nn.Linear4bit(64, 64, bias=False, compute_dtype=torch.float32, quant_type="nf4").to(device)
        with torch.no_grad():
            layer(torch.zeros(1, 64, device=device))
    except Exception as e:
        return f"bitsandbytes {getattr(bnb, '__version__', '?')} cannot run NF4 on {device} ({type(e).__name__}: {e})"
    return None


def quiet_bitsandbytes() -> None:
    """bitsandbytes logs an error on import on CPUs when the optional `kernels` package (a faster CPU 4-bit
    gemm) is missing; its own fallback works, so the message is noise for clonekit's users."""
    import logging

    class _DropKernelsHint(logging.Filter):
        def filter(self, record):
            return "kernels" not in record.getMessage()

    for name in ("bitsandbytes", "bitsandbytes.backends.cpu.ops", "bitsandbytes.backends.cpu"):
        logging.getLogger(name).addFilter(_DropKernelsHint())


def import_trl():
    """Import trl without its side effect on the environment: trl/_compat.py sets VLLM_LOGGING_LEVEL=ERROR in
    os.environ when unset, and every vLLM server started later from this process (the test suite, a notebook)
    would inherit it and log nothing but errors. Called before any `from trl import ...` in clonekit."""
    had = "VLLM_LOGGING_LEVEL" in os.environ
    import trl

    if not had:
        os.environ.pop("VLLM_LOGGING_LEVEL", None)
    return trl


def score_only_target_positions() -> None:
    """TRL's fused LM head projects only the positions that carry a label when Triton runs the kernel, and every
    position elsewhere (so that Neuron's compiled tile shapes stay fixed). On the CPU nothing is compiled, and the
    target's tokens are a third of a chat or less: projecting only them cut the LM head's share of a training step
    on the bundled model from ~40% to ~15% (2 cores). The kernel itself is unchanged (its torch tiles on the CPU);
    only the choice to compact is widened to the CPU. trl is pinned (pyproject) because this names its internals."""
    import_trl()
    import trl.trainer.utils as trl_utils

    original = trl_utils._use_triton
    if getattr(original, "clonekit", False):
        return

    def compact_on_cpu(device) -> bool:
        return device.type == "cpu" or original(device)

    setattr(compact_on_cpu, "clonekit", True)  # noqa: B010  (marks the patch as applied)
    trl_utils._use_triton = compact_on_cpu


def quiet_liger() -> None:
    """liger-kernel warns on import about backends it cannot load on this machine (and TRL imports it when
    `liger: true`); none of that concerns clonekit's users."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", module=r"liger_kernel(\.|$)")
    logging.getLogger("liger_kernel").setLevel(logging.ERROR)


quiet_bitsandbytes()  # before anything imports bitsandbytes (peft and trl do)
quiet_liger()


def element_bytes(prec: Precision) -> tuple[int, int]:
    """(bytes per frozen weight, bytes per activation element) for the memory plan."""
    import torch

    weight = 2 if prec.dtype == torch.bfloat16 else 4
    return weight, 2 if prec.bf16_autocast else weight


def compute_dtype(prec: Precision) -> str:
    """The dtype the layers compute in: bf16 under autocast, else the weights'."""
    return "bfloat16" if prec.bf16_autocast else str(prec.dtype).replace("torch.", "")


@dataclass(frozen=True)
class RunPlan:
    """What a run decides before any weight loads: the attention implementation and the memory plan."""

    attention: AttentionChoice
    memory: MemoryPlan | None

    def as_metrics(self, checkpointed_layers: int) -> dict:
        return {
            "attention": self.attention.name,
            "attention_reason": self.attention.reason,
            "memory_plan": self.memory.as_dict() if self.memory else None,
            "gradient_checkpointing": checkpointed_layers > 0,
            "checkpointed_layers": checkpointed_layers,
        }


def plan_run(base: BaseModel, cfg: TrainConfig, device: str, prec: Precision, tokens: int, log=print) -> RunPlan:
    """Attention for this device and the memory plan for `tokens` per forward; a plan that cannot fit is one
    ClonekitError here, before loading. Logs one line for each."""
    from transformers import AutoConfig

    from clonekit.train import attention

    attention.register()
    choice = choose_attention(cfg.attn_implementation, attention_facts(device, compute_dtype(prec)))
    log(f"attention: {choice.name} ({choice.reason})")
    weight_bytes, act_bytes = element_bytes(prec)
    memory = plan_for_run(cfg, AutoConfig.from_pretrained(base.path), device, tokens, weight_bytes, act_bytes)
    log(memory.line() if memory else "memory plan: no estimate for this architecture (not a Llama-style decoder)")
    return RunPlan(choice, memory)


def load_model(
    base: BaseModel, cfg: TrainConfig, device: str, prec: Precision, plan: RunPlan, adapter: str | None = None
):
    """(model with a trainable LoRA adapter, how many decoder layers are checkpointed). `adapter`: continue
    training that adapter (DPO after SFT) instead of starting a new one.

    QLoRA does not go through peft's prepare_model_for_kbit_training: it casts every bf16 parameter to fp32, the
    embeddings and LM head included (2 GiB more on an 8B model, and fp32 hidden states through the whole network).
    What it does that matters happens elsewhere: get_peft_model (or PeftModel.from_pretrained) freezes the base
    weights, apply_checkpointing makes the inputs require grad, and LlamaRMSNorm computes in fp32 anyway."""
    import torch
    from transformers import AutoModelForCausalLM

    score_only_target_positions()
    kwargs = {"dtype": prec.dtype, "attn_implementation": plan.attention.name}
    if cfg.quantization == "nf4":
        problem = qlora_problem(device)
        if problem:
            raise ClonekitError(f"QLoRA (quantization: nf4) cannot run here: {problem}. Use `quantization: none`")
        from transformers import BitsAndBytesConfig

        compute = torch.bfloat16 if prec.bf16_autocast or prec.dtype == torch.bfloat16 else torch.float32
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=compute
        )
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", 0)) if device == "cuda" else "cpu"}
    model: Any = AutoModelForCausalLM.from_pretrained(base.path, **kwargs)
    model.config.use_cache = False
    model = prepare_for_training(model, cfg, plan.memory, device, adapter)
    return model, checkpointed_count(model)


def prepare_for_training(model, cfg: TrainConfig, memory: MemoryPlan | None, device: str, adapter: str | None = None):
    """A loaded (or built) causal LM -> the model that trains: a LoRA adapter (new, or `adapter` continued), the
    memory plan's checkpointing, train mode. scripts/gpu_check.py builds its models through this too."""
    from peft import LoraConfig, PeftModel, get_peft_model

    if adapter:
        model = PeftModel.from_pretrained(model, adapter, is_trainable=True)
    else:
        model = get_peft_model(
            model,
            LoraConfig(
                r=cfg.lora.r,
                lora_alpha=cfg.lora.alpha,
                lora_dropout=cfg.lora.dropout,
                target_modules=cfg.lora.target_modules,
                task_type="CAUSAL_LM",
            ),
        )
    apply_checkpointing(model, memory, device)
    model.train()  # from_pretrained returns eval mode: checkpointing would silently stay off
    return model
