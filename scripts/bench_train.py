"""Benchmark: clonekit's training step against a padded HF baseline, same examples, same steps, same process type.

    .venv/bin/python scripts/bench_train.py [--models tiny default] [--steps 8] [--examples-per-step 8]

Recipes (every step trains on the same examples in each):
  padded     the naive HF recipe: a (B, longest) batch with an attention mask, the model's own loss over full
             logits, float32 on the CPU (bf16 autocast on CUDA, as the HF Trainer's bf16=True does);
  packed-hf  one packed row (position_ids restarting per example), still the full-logit loss and padded's precision:
             what packing alone gives;
  clonekit   what `clonekit train` runs: TRL's padding-free collator, TRL's fused chunked LM head (the logits are
             never built whole), and clonekit's precision (bf16 autocast on CUDA and on CPUs with native bf16).
All use LoRA r16 on all linear layers and AdamW. Each (model, recipe) runs in a fresh process so peak memory is its
own (CPU: max RSS; CUDA: max allocated). Prints real (non-pad) tokens/s, peak memory, and ratios against padded.
On CUDA, `llama-8b` and `llama-1b` build Llama-3.1-8B / Llama-3.2-1B shapes with random weights.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHAPES = {  # random-weight Llama shapes for CUDA benchmarks
    "llama-8b": dict(
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        vocab_size=128256,
        rope_theta=500000.0,
    ),
    "llama-1b": dict(
        hidden_size=2048,
        intermediate_size=8192,
        num_hidden_layers=16,
        num_attention_heads=32,
        num_key_value_heads=8,
        vocab_size=128256,
        rope_theta=500000.0,
        tie_word_embeddings=True,
    ),
}


def _examples(n: int, seed: int, vocab: int) -> list:
    """Chat-length examples from the sample corpus (tokenized with the default template), or, for large
    vocabularies, lognormal lengths (median 250 tokens, 32..2048) with random ids and the same mask shape."""
    from clonekit.train.tokenize import Tokenized

    rnd = random.Random(seed)
    if vocab == 49152:
        import tempfile

        from clonekit.config import PrepConfig
        from clonekit.data_prep.build import build_datasets
        from clonekit.data_prep.parse import parse_exports
        from clonekit.samples.exports import write_sample
        from clonekit.train.template import load_template
        from clonekit.train.tiny import default_hf_tokenizer
        from clonekit.train.tokenize import load_examples, tokenize_dataset

        with tempfile.TemporaryDirectory() as d:
            info = write_sample(Path(d) / "s", corpus="small")
            parse_exports([Path(d) / "s" / info["files"]["telegram"]], Path(d) / "m.jsonl")
            build_datasets(Path(d) / "m.jsonl", Path(d) / "ds", PrepConfig(target=info["target"], valid_fraction=0))
            tok = default_hf_tokenizer()
            data, _ = tokenize_dataset(tok, load_template("auto", tok), load_examples(Path(d) / "ds/train.jsonl"), 1024)
    else:
        data = []
        for _ in range(n):
            length = max(32, min(2048, int(rnd.lognormvariate(5.52, 0.6))))
            ids = [rnd.randrange(1000, vocab) for _ in range(length)]
            labels = [t if rnd.random() < 0.3 else -100 for t in ids]
            data.append(Tokenized(ids, labels))
    rnd.shuffle(data)
    return (data * (n // max(len(data), 1) + 1))[:n]


def _model(name: str, device: str, recipe: str = "padded"):
    """The recipe's model: for clonekit, what train/model.py loads (precision and attention from TrainConfig's
    defaults, the fused head scoring target positions only); for the others, HF defaults (sdpa)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    from clonekit.config import TrainConfig
    from clonekit.train import attention
    from clonekit.train.attention_choice import attention_facts, choose_attention
    from clonekit.train.model import compute_dtype, precision, score_only_target_positions

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    attn = "sdpa"
    if recipe == "clonekit":
        attention.register()
        prec = precision(TrainConfig(), device)
        dtype, attn = prec.dtype, choose_attention("auto", attention_facts(device, compute_dtype(prec))).name
        score_only_target_positions()
    if name in SHAPES:
        with torch.device(device):
            model = LlamaForCausalLM(LlamaConfig(**SHAPES[name], head_dim=128, attn_implementation=attn)).to(dtype)
    else:
        if name == "tiny":
            from clonekit.train.tiny import make_tiny_model

            path = ROOT / "bench_out" / "tiny-model"
            if not (path / "config.json").exists():
                make_tiny_model(path, layers=4, heads=4, kv_heads=2)
        else:
            from clonekit.train.base_models import resolve_base

            path = resolve_base("default").path
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, attn_implementation=attn).to(device)
    model.config.use_cache = False
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"))
    if device == "cuda":
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model.train()
    return model


RECIPES = ("padded", "packed-hf", "clonekit")


def run_one(model_name: str, recipe: str, steps: int, per_step: int) -> dict:
    import torch

    from clonekit.train.dataset import padding_free_collator
    from clonekit.train.model import cpu_has_bf16
    from clonekit.train.trainer import peak_memory_gib

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    model = _model(model_name, device, recipe)
    vocab = model.get_input_embeddings().weight.shape[0]
    data = _examples(steps * per_step, 0, vocab)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    collate = padding_free_collator(pad_token_id=0)
    autocast = device == "cuda" or (recipe == "clonekit" and cpu_has_bf16())
    if recipe == "clonekit":
        from trl.trainer.utils import add_fused_lm_head

        add_fused_lm_head(model.get_base_model())

    def batch_for(group):
        if recipe != "padded":
            row = {
                "input_ids": sum((e.input_ids for e in group), []),
                "labels": sum((e.labels for e in group), []),
                "seq_lengths": [len(e) for e in group],
            }
            batch = collate([row])
            if recipe == "packed-hf":  # the model's own loss: input_ids, labels, position_ids only
                batch = {k: batch[k] for k in ("input_ids", "labels", "position_ids")}
            return batch
        width = max(len(e) for e in group)
        ids = torch.zeros((len(group), width), dtype=torch.long)  # (B, T) right-padded
        labels = torch.full((len(group), width), -100, dtype=torch.long)
        mask = torch.zeros((len(group), width), dtype=torch.long)
        for b, e in enumerate(group):
            ids[b, : len(e)] = torch.tensor(e.input_ids)
            labels[b, : len(e)] = torch.tensor(e.labels)
            mask[b, : len(e)] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    def step(group):
        batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in batch_for(group).items()}
        with torch.autocast(device, dtype=torch.bfloat16, enabled=autocast):
            if recipe == "clonekit":
                loss = model(**batch, fused_lm_head=True, use_cache=False).loss
            else:
                loss = model(**batch, use_cache=False).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    step(data[:per_step])  # warm-up (allocations, kernels), not timed
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    tokens = 0
    start = time.perf_counter()
    for s in range(steps):
        group = data[s * per_step : (s + 1) * per_step]
        step(group)
        tokens += sum(len(e) for e in group)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = peak_memory_gib(device)
    return {
        "model": model_name,
        "recipe": recipe,
        "device": device,
        "tokens_per_s": tokens / seconds,
        "peak_gib": peak,
        "tokens": tokens,
        "seconds": seconds,
        "bf16_autocast": autocast,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=None, help="tiny default (CPU); llama-1b llama-8b (CUDA)")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--examples-per-step", type=int, default=8)
    ap.add_argument("--one", nargs=2, metavar=("MODEL", "RECIPE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], args.one[1], args.steps, args.examples_per_step)))
        return
    import torch

    models = args.models or (["llama-1b", "llama-8b"] if torch.cuda.is_available() else ["tiny", "default"])
    results = []
    for model in models:
        for recipe in RECIPES:
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--one",
                    model,
                    recipe,
                    "--steps",
                    str(args.steps),
                    "--examples-per-step",
                    str(args.examples_per_step),
                ],
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            if proc.returncode != 0:
                print(f"{model}/{recipe} failed:\n{proc.stderr[-2000:]}")
                continue
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(
        f"\ntrain benchmark: {args.steps} steps x {args.examples_per_step} examples, LoRA r16 all-linear, "
        f"device {results[0]['device'] if results else '?'}"
    )
    print(f"{'model':10} {'recipe':10} {'bf16':>5} {'real tok/s':>11} {'peak GiB':>9} {'vs padded':>10}")
    for r in results:
        padded = next((x for x in results if x["model"] == r["model"] and x["recipe"] == "padded"), None)
        ratio = f"{r['tokens_per_s'] / padded['tokens_per_s']:.2f}x" if padded else "-"
        print(
            f"{r['model']:10} {r['recipe']:10} {'yes' if r['bf16_autocast'] else 'no':>5} {r['tokens_per_s']:11,.0f} "
            f"{r['peak_gib']:9.2f} {ratio:>10}"
        )
    for model in models:
        pair = {r["recipe"]: r for r in results if r["model"] == model}
        if "padded" in pair and "clonekit" in pair:
            print(
                f"{model}: clonekit / padded = "
                f"{pair['clonekit']['tokens_per_s'] / pair['padded']['tokens_per_s']:.2f}x "
                f"tokens/s, {pair['clonekit']['peak_gib'] / pair['padded']['peak_gib']:.2f}x peak memory"
            )
        if "packed-hf" in pair and "clonekit" in pair:
            print(
                f"{model}: peak memory, full-logit loss {pair['packed-hf']['peak_gib']:.2f} GiB -> chunked "
                f"{pair['clonekit']['peak_gib']:.2f} GiB (packed rows both)"
            )


if __name__ == "__main__":
    main()
