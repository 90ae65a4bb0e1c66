"""`clonekit train`: the base model, LoRA/QLoRA, the optimizer, packing, precision."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from clonekit.config.base import StrictModel


class LoraSettings(StrictModel):
    r: int = Field(
        16,
        ge=1,
        description="rank of the low-rank update",
    )
    alpha: int = Field(
        32,
        ge=1,
        description="scaling: the update is multiplied by alpha / r",
    )
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: str | list[str] = Field(
        "all-linear",
        description='or e.g. ["q_proj", "v_proj"]',
    )


class TrainConfig(StrictModel):
    """`clonekit train`: LoRA/QLoRA fine-tuning with the loss on the target's turns only."""

    base: str = Field(
        "default",
        description='"default" (bundled SmolLM2-135M-Instruct), a local HF model dir, or a hub id',
    )
    template: str = Field(
        "auto",
        description="chat template file; auto: chatml-names for <|im_start|> models, llama3-names for Llama 3",
    )
    speaker_loss: bool = Field(
        False,
        description="the train split also puts the loss on the role word opening each turn (assistant or user): "
        "the model learns who writes next, for the speak score (`--speak auto`); no one else's words are learnt. "
        "Off: the loss falls on the target's turns only",
    )
    max_seq_len: int = Field(
        1024,
        ge=32,
        description="longer examples are split on turn boundaries",
    )
    row_tokens: int = Field(
        2048,
        ge=32,
        description="packed row length: examples are packed into rows of this many tokens",
    )
    rows_per_step: int = Field(
        1,
        ge=1,
        description="gradient accumulation: tokens per optimizer step ~ row_tokens * rows_per_step",
    )
    epochs: float = Field(3.0, gt=0)
    max_steps: int = Field(
        -1,
        description="> 0 overrides epochs",
    )
    learning_rate: float = Field(3e-4, gt=0)
    lr_scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = "cosine"
    warmup_ratio: float = Field(0.05, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    lora: LoraSettings = LoraSettings()
    quantization: Literal["none", "nf4"] = Field(
        "none",
        description="nf4 = QLoRA (bitsandbytes 4-bit NF4; CUDA, and CPU for tests)",
    )
    dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto",
        description="frozen base weights: auto = bfloat16 when autocasting",
    )
    # bf16 autocast of the compute: auto = on for CUDA and for CPUs with native bf16 (AVX512-BF16 or AMX)
    mixed_precision: Literal["auto", "bf16", "no"] = "auto"
    attn_implementation: Literal[
        "auto",
        "varlen_sdpa",
        "varlen_attn",
        "sdpa_nocudnn",
        "flash_attention_2",
        "flash_attention_3",
        "sdpa",
        "flex_attention",
        "eager",
    ] = Field(
        "auto",
        description="auto: per device (train/attention_choice.py): varlen_sdpa on the CPU; on CUDA torch's "
        "varlen_attn, else flash-attn, else sdpa_nocudnn",
    )
    gradient_checkpointing: Literal["auto", "on", "off"] = Field(
        "auto",
        description="auto: the memory plan decides (off where the activations fit the GPU's free memory or "
        "memory_gib, partial in between); off on the CPU without memory_gib",
    )
    memory_gib: float | None = Field(
        None,
        gt=0,
        description="the memory plan's limit in GiB: plan for a smaller card than the one at hand (a 24 GB card: "
        "about 20); default: the GPU's free memory, no limit on the CPU",
    )
    liger: bool = Field(
        False,
        description="Liger's RMSNorm/RoPE/SwiGLU kernels (CUDA only, needs liger-kernel); measured no faster with "
        "TRL's fused loss, so off by default",
    )
    eval_every: int = Field(
        20,
        ge=1,
        description="steps between validation-loss evaluations (and checkpoints)",
    )
    early_stopping_patience: int = Field(
        3,
        ge=0,
        description="evaluations without improvement before stopping; 0 = off",
    )
    save_total_limit: int = Field(2, ge=1)
    seed: int = 0
    threads: int | None = Field(
        None,
        description="CPU threads for torch (default: all cores)",
    )
    # DPO (`clonekit train --method dpo`): preference pairs; the reference is the adapter training starts from
    dpo_beta: float = Field(
        0.1,
        gt=0,
        description="how far the policy may move from the reference (TRL's beta)",
    )

    @model_validator(mode="after")
    def _check_train(self) -> TrainConfig:
        if self.row_tokens < self.max_seq_len:
            raise ValueError("row_tokens must be at least max_seq_len (a row holds at least one example)")
        return self
