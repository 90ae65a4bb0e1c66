"""Benchmark: the exported GGUFs of one clone under llama.cpp, in one run: file size, held-out perplexity on the
target's turns, generation speed, beside the merged model under transformers.

    .venv/bin/python scripts/bench_export.py [--run runs/demo] [--examples 40] [--threads 2]

Without --run, a clone of the bundled model is trained for 20 steps on the small sample chat (about a minute).
Greedy parity: for 5 held-out prompts (validation chats up to the target's first turn), the first 32 greedy tokens
(or up to the end-of-turn token) of the f16 GGUF under llama.cpp, and of the base's f16 GGUF with the adapter's LoRA
GGUF applied, against the merged model's under transformers.
Perplexity: exp of the mean negative log-likelihood of the target's tokens (clonekit's loss mask: their turns and
end-of-turn tokens) of the validation split, every position scored by llama.cpp (`logits_all`). The issue's bars:
q8_0 within 2% of f16, q4_k_m within 10%.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
QUANTS = ("f16", "q8_0", "q4_k_m")


def quick_clone(work: Path) -> Path:
    from clonekit.config import TrainConfig
    from clonekit.train import train
    from tests.helpers import sample_dataset

    ds = sample_dataset(work, weeks=3)
    cfg = TrainConfig(base="default", max_steps=20, max_seq_len=512, row_tokens=512, eval_every=20, learning_rate=1e-3)
    return train(cfg, ds, work / "run", show_progress=False, log=lambda s: None)


def heldout(run: Path, limit: int):
    """(input ids, labels) of the run's validation examples (clonekit's mask), at most `limit`."""
    from clonekit.manifest import read_manifest
    from clonekit.train.tokenize import load_examples, tokenize_dataset
    from clonekit.train.trainer import load_tokenizer

    manifest = read_manifest(run)
    tokenizer, template = load_tokenizer(run, str(run / "chat_template.jinja"))
    examples = load_examples(Path(manifest["dataset"]["dir"]) / "valid.jsonl")[:limit]
    data, _ = tokenize_dataset(tokenizer, template, examples, 512)
    return [(x.input_ids, x.labels) for x in data]


def nll_llama_cpp(path: Path, rows, threads: int) -> tuple[float, int]:
    import numpy as np
    from llama_cpp import Llama

    llm = Llama(model_path=str(path), n_ctx=1024, logits_all=True, n_threads=threads, verbose=False)
    total, count = 0.0, 0
    for ids, labels in rows:
        llm.reset()
        llm.eval(ids)
        logits = np.asarray(llm.scores[: len(ids)], dtype=np.float64)  # (T, V): position t scores token t+1
        logp = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
        for t in range(len(ids) - 1):
            if labels[t + 1] != -100:
                total -= logp[t, ids[t + 1]]
                count += 1
    return total, count


def nll_hf(model_dir: Path, rows) -> tuple[float, int]:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for ids, labels in rows:
            logits = model(torch.tensor([ids])).logits[0].double()
            logp = torch.log_softmax(logits, -1)
            target = torch.tensor(labels[1:])
            mask = target != -100
            total -= float(logp[:-1][mask].gather(1, target[mask][:, None]).sum())
            count += int(mask.sum())
    return total, count


def prompts_of(rows, n: int = 5) -> list[list[int]]:
    """Held-out prompts: each validation chat up to the first token of the target's first turn."""
    prompts = []
    for ids, labels in rows:
        first = next((i for i, label in enumerate(labels) if label != -100), None)
        if first:
            prompts.append(ids[:first])
        if len(prompts) == n:
            break
    return prompts


def speed(path: Path, threads: int, tokens: int = 64) -> float:
    from llama_cpp import Llama

    llm = Llama(model_path=str(path), n_ctx=512, n_threads=threads, verbose=False)
    prompt = "<|im_start|>user Maya\nwhat are we doing tonight?<|im_end|>\n<|im_start|>assistant\n"
    llm.create_completion(prompt, max_tokens=8, temperature=0)  # warm-up
    started, produced = time.perf_counter(), 0
    for seed in range(3):
        out = llm.create_completion(prompt, max_tokens=tokens, temperature=0.8, seed=seed, stop=[])
        produced += out["usage"]["completion_tokens"]
    return produced / (time.perf_counter() - started)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", type=Path, default=None, help="an adapter run (default: train a quick clone)")
    ap.add_argument("--examples", type=int, default=40, help="validation examples scored")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench_out" / "export")
    args = ap.parse_args()
    from clonekit.train.export import export
    from clonekit.train.export_check import greedy_llama_cpp, greedy_transformers

    args.out.mkdir(parents=True, exist_ok=True)
    run = args.run or quick_clone(args.out / "quick")
    quiet = lambda s: None  # noqa: E731
    hf = export(run, "hf", args.out / "hf", log=quiet)
    rows = heldout(run, args.examples)
    total, count = nll_hf(hf, rows)
    results = [("merged HF (transformers, fp32)", None, math.exp(total / count), None)]
    for quant in QUANTS:
        path = export(run, "gguf", args.out / "gguf", quant=quant, log=quiet)
        total, count = nll_llama_cpp(path, rows, args.threads)
        results.append((f"GGUF {quant} (llama.cpp)", path.stat().st_size / 2**20, math.exp(total / count), path))
    f16 = results[1][2]
    prompts = prompts_of(rows)
    want = greedy_transformers(hf, prompts)
    _, got = greedy_llama_cpp(results[1][3], prompts, threads=args.threads)
    lora = export(run, "lora-gguf", args.out / "lora", quant="f16", with_base=True, log=quiet)
    _, got_lora = greedy_llama_cpp(args.out / "lora" / "base.F16.gguf", prompts, lora=lora, threads=args.threads)
    same = sum(a == b for a, b in zip(want, got, strict=True))
    same_lora = sum(a == b for a, b in zip(want, got_lora, strict=True))
    print(f"\ngreedy parity, {len(prompts)} held-out prompts, 32 tokens or up to the end of turn, vs the merged model")
    print(f"  f16 GGUF under llama.cpp:                  {same}/{len(prompts)} identical")
    print(f"  base f16 GGUF + LoRA GGUF under llama.cpp: {same_lora}/{len(prompts)} identical")
    print(
        f"\nexport benchmark: {run}, {len(rows)} validation examples, {count:,} target tokens, {args.threads} threads"
    )
    print(f"{'model':32} {'MiB':>7} {'perplexity':>11} {'vs f16':>8} {'tok/s':>7}")
    for name, size, ppl, path in results:
        rate = f"{speed(path, args.threads):7.1f}" if path else "      -"
        size_text = f"{size:7.1f}" if size else "      -"
        print(f"{name:32} {size_text} {ppl:11.3f} {ppl / f16 - 1:+8.2%} {rate}")


if __name__ == "__main__":
    main()
