"""Greedy replies of an exported clone, for parity checks: the first `n` greedy tokens of each prompt (token ids),
up to and including the end-of-turn token, under transformers (a merged HF folder) and under llama.cpp (a GGUF,
optionally with a LoRA GGUF applied). A wrong rotary layout of q/k, or a LoRA B not permuted like its base, breaks
the equality at the first token. Used by the export tests and `scripts/bench_export.py`."""

from __future__ import annotations

from pathlib import Path

END_OF_TURN = "<|im_end|>"


def greedy_transformers(model_dir: str | Path, prompts: list[list[int]], n: int = 32) -> list[list[int]]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    end = AutoTokenizer.from_pretrained(model_dir).convert_tokens_to_ids(END_OF_TURN)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    replies = []
    with torch.no_grad():
        for ids in prompts:
            out = model.generate(torch.tensor([ids]), max_new_tokens=n, do_sample=False, eos_token_id=end)
            replies.append(out[0][len(ids) :].tolist())
    return replies


def greedy_llama_cpp(
    path: str | Path, prompts: list[list[int]], n: int = 32, lora: str | Path | None = None, threads: int | None = None
):
    """(the llama_cpp.Llama, the replies): the model is returned for checks of its tokenizer and metadata."""
    from llama_cpp import Llama

    llm = Llama(
        model_path=str(path),
        n_ctx=1024,
        n_threads=threads,
        verbose=False,
        lora_path=str(lora) if lora else None,
    )
    replies = []
    for ids in prompts:
        llm.reset()
        tokens: list[int] = []
        for t in llm.generate(ids, top_k=1, temp=0.0, repeat_penalty=1.0):
            tokens.append(t)
            if len(tokens) == n or t == llm.token_eos():
                break
        replies.append(tokens)
    return llm, replies
