"""A merged Llama-architecture HF model -> one GGUF file that llama.cpp (and Ollama, LM Studio) run as it trained.

Written with the `gguf` package (llama.cpp's own writer), converting one tensor at a time from memory-mapped
safetensors (the writer holds the converted tensors until it writes them: about the GGUF's size in memory). Why
not llama.cpp's convert_hf_to_gguf.py: it is a script in llama.cpp's repository, not on the package index. What it
does that matters is done here, and checked by greedy parity under llama.cpp in the tests:
- the tensor names llama.cpp's `llama` architecture expects (token_embd, blk.N.attn_q, ..., output_norm, output);
- the rotary layout: HF stores q_proj/k_proj rows with the two rotary halves apart, llama.cpp interleaves them, so
  each head's rows are permuted (convert_hf_to_gguf's `LlamaModel.permute`);
- norms stay f32, matrices f16 (or q8_0);
- the tokenizer fields of the base (the default model's own GGUF fields), with the run's chat template, the one
  training used, names included, as `tokenizer.chat_template`, and the end-of-turn token as EOS/EOT.
Architectures: LlamaForCausalLM (SmolLM2, Llama 2/3); MistralForCausalLM has the same layout (no sliding window).

`write_lora_gguf` writes the adapter alone as a GGUF LoRA (`general.type = adapter`), the layout of llama.cpp's
convert_lora_to_gguf.py: `blk.N.attn_q.weight.lora_a` / `.lora_b` as PEFT stores A (r x in) and B (out x r), B's
rows of q/k permuted as the base's q/k rows are, and `adapter.lora.alpha` so that llama.cpp's scale alpha/r equals
PEFT's (alpha x sqrt(r) for rsLoRA, whose scale is alpha/sqrt(r)).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from clonekit.errors import ClonekitError

ARCHITECTURES = ("LlamaForCausalLM", "MistralForCausalLM")
FTYPES = ("f16", "q8_0")  # written here; q4_k_m is quantized from f16 by llama.cpp itself (train/export.py)


def _permute(w, n_head: int):
    """HF's rotary layout -> llama.cpp's, for one q or k projection (rows: n_head x head_dim)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


BLOCK_TENSORS = {
    "input_layernorm.weight": "attn_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
MODEL_TENSORS = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",  # absent with tied embeddings: llama.cpp then reuses token_embd
}


def gguf_name(hf_name: str) -> str | None:
    """llama.cpp's tensor name for a LlamaForCausalLM state-dict key (None: not written)."""
    if hf_name in MODEL_TENSORS:
        return MODEL_TENSORS[hf_name]
    parts = hf_name.split(".", 3)  # model, layers, N, rest
    if len(parts) == 4 and parts[:2] == ["model", "layers"] and parts[3] in BLOCK_TENSORS:
        return f"blk.{parts[2]}.{BLOCK_TENSORS[parts[3]]}"
    return None


def _check_architecture(config: dict, where: Path) -> None:
    arch = (config.get("architectures") or ["?"])[0]
    if arch not in ARCHITECTURES or config.get("sliding_window"):
        raise ClonekitError(
            f"GGUF export supports {', '.join(ARCHITECTURES)} (without a sliding window); this model is {arch}", where
        )


def write_gguf(
    model_dir: Path,
    out: Path,
    ftype: str,
    chat_template: str,
    end_of_turn_id: int,
    name: str,
    tokenizer_fields: list,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write `model_dir` (a merged HF model: config.json and safetensors) as a GGUF at `ftype`."""
    import json

    import numpy as np
    from gguf import GGMLQuantizationType, GGUFWriter, LlamaFileType
    from gguf.quants import quantize
    from safetensors import safe_open

    if ftype not in FTYPES:
        raise ClonekitError(f"GGUF type {ftype!r} is not written directly (one of {', '.join(FTYPES)})")
    config = json.loads((model_dir / "config.json").read_text())
    _check_architecture(config, model_dir / "config.json")
    heads, kv_heads = config["num_attention_heads"], config.get("num_key_value_heads") or config["num_attention_heads"]
    head_dim = config.get("head_dim") or config["hidden_size"] // heads
    writer = GGUFWriter(str(out), arch="llama")
    writer.add_name(name)
    writer.add_vocab_size(config["vocab_size"])
    writer.add_context_length(config.get("max_position_embeddings", 2048))
    writer.add_embedding_length(config["hidden_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_dimension_count(head_dim)
    if head_dim != config["hidden_size"] // heads:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    writer.add_layer_norm_rms_eps(config.get("rms_norm_eps", 1e-5))
    rope = config.get("rope_parameters") or {}
    writer.add_rope_freq_base(float(rope.get("rope_theta") or config.get("rope_theta") or 10000.0))
    writer.add_file_type(LlamaFileType.MOSTLY_F16 if ftype == "f16" else LlamaFileType.MOSTLY_Q8_0)
    for key, value, vtype, sub in tokenizer_fields:
        if key in ("tokenizer.chat_template", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"):
            continue
        writer.add_key_value(key, value, vtype, sub_type=sub)
    writer.add_chat_template(chat_template)
    writer.add_eos_token_id(end_of_turn_id)
    writer.add_eot_token_id(end_of_turn_id)

    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise ClonekitError("no safetensors weights", model_dir)
    handles = [safe_open(str(f), framework="numpy") for f in files]
    keys = [(h, k) for h in handles for k in h.keys()]
    done = 0
    for handle, key in keys:
        target = gguf_name(key)
        if target is None:
            continue
        data = handle.get_tensor(key)
        if data.dtype not in (np.float32, np.float16):
            data = data.astype(np.float32)
        if key.endswith("q_proj.weight"):
            data = _permute(data, heads)
        elif key.endswith("k_proj.weight"):
            data = _permute(data, kv_heads)
        if data.ndim == 1:
            writer.add_tensor(target, data.astype(np.float32))
        elif ftype == "q8_0" and data.shape[-1] % 32 == 0:
            q = quantize(data.astype(np.float32), GGMLQuantizationType.Q8_0)
            writer.add_tensor(target, q, raw_shape=q.shape, raw_dtype=GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(target, data.astype(np.float16))
        done += 1
        if progress:
            progress(done, len(keys))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


def write_lora_gguf(
    adapter_dir: Path, base_config: dict, out: Path, name: str, progress: Callable[[int, int], None] | None = None
) -> Path:
    """Write a PEFT LoRA adapter (adapter_config.json, adapter_model.safetensors) as a llama.cpp LoRA GGUF (f32:
    the adapter is small, and f32 keeps it exactly as trained)."""
    import json
    import math

    import numpy as np
    from gguf import GGUFType, GGUFWriter, Keys
    from safetensors import safe_open

    _check_architecture(base_config, adapter_dir / "adapter_config.json")
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    unsupported = [
        what
        for what, present in (
            ("DoRA", config.get("use_dora")),
            ("modules_to_save", config.get("modules_to_save")),
            ("trainable tokens", config.get("trainable_token_indices")),
            ("per-module ranks or alphas", config.get("rank_pattern") or config.get("alpha_pattern")),
            ("LoRA biases", config.get("lora_bias")),
        )
        if present
    ]
    if config.get("peft_type") != "LORA" or unsupported:
        raise ClonekitError(
            "a llama.cpp LoRA GGUF holds plain LoRA A/B matrices; this adapter has "
            + (", ".join(unsupported) or str(config.get("peft_type")))
            + ": export the merged model (`--format gguf`) instead",
            adapter_dir / "adapter_config.json",
        )
    rank, alpha = int(config["r"]), float(config["lora_alpha"])
    if config.get("use_rslora"):
        alpha *= math.sqrt(rank)
    heads = base_config["num_attention_heads"]
    kv_heads = base_config.get("num_key_value_heads") or heads
    writer = GGUFWriter(str(out), arch="llama")
    writer.add_type(GGUFType.ADAPTER)
    writer.add_string(Keys.Adapter.TYPE, "lora")
    writer.add_float32(Keys.Adapter.LORA_ALPHA, alpha)
    writer.add_name(name)
    handle = safe_open(str(adapter_dir / "adapter_model.safetensors"), framework="numpy")
    keys = sorted(handle.keys())
    for done, key in enumerate(keys, 1):
        # base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight -> model.layers.0.self_attn.q_proj.weight
        module, _, part = key.removeprefix("base_model.model.").rpartition(".lora_")
        target = gguf_name(module + ".weight")
        if target is None or part not in ("A.weight", "B.weight"):
            raise ClonekitError(f"llama.cpp has no place for the adapter tensor {key}", adapter_dir)
        data = handle.get_tensor(key).astype(np.float32)
        if part == "B.weight" and module.endswith("q_proj"):
            data = _permute(data, heads)
        elif part == "B.weight" and module.endswith("k_proj"):
            data = _permute(data, kv_heads)
        writer.add_tensor(f"{target}.lora_{part[0].lower()}", np.ascontiguousarray(data))
        if progress:
            progress(done, len(keys))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out
