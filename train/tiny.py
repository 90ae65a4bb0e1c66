"""Tiny random Llama models with the default model's tokenizer, for tests and CPU benchmarks.
head_dim is 64 (vLLM's CPU attention rejects smaller heads)."""

from __future__ import annotations

from pathlib import Path


def default_hf_tokenizer():
    """The default model's tokenizer as a transformers tokenizer, built from the GGUF without the weights."""
    from transformers import PreTrainedTokenizerFast

    from clonekit import default_model

    return PreTrainedTokenizerFast(
        tokenizer_object=default_model.tokenizer(),
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
        unk_token="<|endoftext|>",
    )


def make_tiny_model(out: str | Path, layers: int = 2, heads: int = 2, kv_heads: int = 1, seed: int = 0) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out = Path(out)
    tok = default_hf_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64 * heads,
        intermediate_size=128 * heads,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        head_dim=64,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        rope_theta=100000.0,  # type: ignore[call-arg]  # accepted at run time (legacy rope argument)
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out
