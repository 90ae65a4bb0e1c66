"""Every GPU path of clonekit in one run, one table (scripts/gpu_check.sh sets up and calls this).

    python scripts/gpu_check.py [--smoke] [--steps N] [--skip-train] [--skip-tests]

1. Training throughput and peak memory, LoRA and QLoRA, on Llama-3.2-1B and Llama-3.1-8B shapes (random weights):
   chat-length sessions (lognormal, median ~250 tokens, 32..2048), 4,096 real tokens per optimizer step, gradient
   checkpointing. Each row is a fresh process. Two recipes side by side, measured in the same run:
     hf-peft   plain HF + PEFT: packed rows (position_ids), sdpa over a block-diagonal mask, the model's own loss
               over full logits, bf16 weights and autocast (what the HF Trainer's bf16=True does);
     clonekit  what `clonekit train` runs: varlen_sdpa (train/attention.py), TRL's fused chunked LM head,
               Liger's RMSNorm/RoPE/SwiGLU where liger-kernel is installed, the same precision.
   QLoRA: bitsandbytes NF4 with double quantization, bf16 compute, for both recipes.
2. The GPU-marked tests (pytest -m gpu: a QLoRA step, bf16, Liger, gradient checkpointing on the tiny model).
3. vLLM on CUDA: whether it is installed (its wheel is too large to travel with the project); when it is, the tiny
   clone served as a LoRA adapter: greedy parity with HF + PEFT and clone/base throughput.

--smoke runs every path at toy sizes (tiny shapes, CPU allowed) to check the script itself without a GPU.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHAPES = {
    "llama-1b": dict(
        hidden_size=2048,
        intermediate_size=8192,
        num_hidden_layers=16,
        num_attention_heads=32,
        num_key_value_heads=8,
        head_dim=64,
        vocab_size=128256,
        rope_theta=500000.0,
        tie_word_embeddings=True,
    ),
    "llama-8b": dict(
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        head_dim=128,
        vocab_size=128256,
        rope_theta=500000.0,
    ),
    "smoke": dict(
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=64,
        vocab_size=4096,
        rope_theta=10000.0,
    ),
}
TARGETS = {
    ("llama-8b", "lora"): (10_000, 16.0),
    ("llama-8b", "qlora"): (7_500, 10.0),
    ("llama-1b", "lora"): (40_000, None),
}
STEP_TOKENS = 4096


def sessions(n_tokens: int, vocab: int, seed: int = 0) -> list[tuple[list[int], list[int]]]:
    """(input_ids, labels) chats, lognormal lengths (median 250, 32..2048), ~30% of tokens carrying the loss."""
    rnd = random.Random(seed)
    out, total = [], 0
    while total < n_tokens:
        length = max(32, min(2048, int(rnd.lognormvariate(math.log(250), 0.6))))
        ids = [rnd.randrange(10, vocab) for _ in range(length)]
        labels = [t if rnd.random() < 0.3 else -100 for t in ids]
        labels[0] = -100
        out.append((ids, labels))
        total += length
    return out


def steps_of(chats, step_tokens: int):
    """Groups of chats with exactly `step_tokens` real tokens each (the last chat of a step is cut)."""
    steps, cur, used = [], [], 0
    for ids, labels in chats:
        take = min(len(ids), step_tokens - used)
        cur.append((ids[:take], labels[:take]))
        used += take
        if used == step_tokens:
            steps.append(cur)
            cur, used = [], 0
    return steps


def build_model(shape: str, method: str, recipe: str, device: str):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    from clonekit.train.attention import NAME, register

    register()
    attn = NAME if recipe == "clonekit" else "sdpa"
    dtype = torch.bfloat16 if device == "cuda" or shape == "smoke" else torch.float32
    config = LlamaConfig(**SHAPES[shape], attn_implementation=attn)
    with torch.device(device):
        model = LlamaForCausalLM(config).to(dtype)
    if method == "qlora":
        model = quantize_nf4(model, device)
    if recipe == "clonekit" and device == "cuda" and importlib.util.find_spec("liger_kernel"):
        from liger_kernel.transformers import _apply_liger_kernel_to_instance

        _apply_liger_kernel_to_instance(model=model, cross_entropy=False, fused_linear_cross_entropy=False)
    model.config.use_cache = False
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"))
    if recipe == "clonekit":
        from trl.trainer.utils import add_fused_lm_head

        from clonekit.train.model import score_only_target_positions

        score_only_target_positions()
        add_fused_lm_head(model.get_base_model())
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.enable_input_require_grads()
    model.train()
    return model


def quantize_nf4(model, device: str):
    """Every Linear but the LM head as a bitsandbytes NF4 Linear4bit (double quantization, bf16 compute): what
    `from_pretrained(quantization_config=BitsAndBytesConfig(...))` makes, without writing 16 GB of random weights
    to disk first."""
    import bitsandbytes as bnb
    import torch

    for _name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, torch.nn.Linear) and child_name != "lm_head":
                q = bnb.nn.Linear4bit(
                    child.in_features,
                    child.out_features,
                    bias=child.bias is not None,
                    compute_dtype=torch.bfloat16,
                    compress_statistics=True,
                    quant_type="nf4",
                    device="meta",
                )
                q.weight = bnb.nn.Params4bit(
                    child.weight.data.to("cpu"), requires_grad=False, quant_type="nf4", compress_statistics=True
                ).to(device)
                setattr(module, child_name, q)
        if device == "cuda":
            torch.cuda.empty_cache()
    model.is_loaded_in_4bit = True  # PEFT then wraps the 4-bit layers with its bnb LoRA layers
    return model


def train_row(shape: str, method: str, recipe: str, steps: int) -> dict:
    import torch

    from clonekit.train.dataset import padding_free_collator

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    model = build_model(shape, method, recipe, device)
    vocab = SHAPES[shape]["vocab_size"]
    step_tokens = STEP_TOKENS if shape != "smoke" else 512
    plan = steps_of(sessions(step_tokens * (steps + 2), vocab), step_tokens)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    collate = padding_free_collator(0)

    def step(group):
        row = {
            "input_ids": sum((ids for ids, _ in group), []),
            "labels": sum((lb for _, lb in group), []),
            "seq_lengths": [len(ids) for ids, _ in group],
        }
        batch = collate([row])
        if recipe == "hf-peft":
            batch = {k: batch[k] for k in ("input_ids", "labels", "position_ids")}
        batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}
        with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda" or shape == "smoke"):
            out = model(**batch, use_cache=False, **({"fused_lm_head": True} if recipe == "clonekit" else {}))
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for group in plan[:2]:
        step(group)  # warm-up: allocations, kernels, autotuning
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for group in plan[2 : 2 + steps]:
        step(group)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else float("nan")
    return {
        "shape": shape,
        "method": method,
        "recipe": recipe,
        "tokens_per_s": steps * step_tokens / seconds,
        "peak_gib": peak,
        "device": device,
    }


def run_training(shapes: list[str], steps: int) -> list[dict]:
    rows = []
    for shape in shapes:
        for method in ("lora", "qlora"):
            for recipe in ("hf-peft", "clonekit"):
                started = time.perf_counter()
                proc = subprocess.run(
                    [sys.executable, __file__, "--one", shape, method, recipe, "--steps", str(steps)],
                    capture_output=True,
                    text=True,
                    cwd=ROOT,
                    timeout=900,
                )
                if proc.returncode != 0:
                    err = (proc.stderr.strip().splitlines() or ["?"])[-1]
                    rows.append({"shape": shape, "method": method, "recipe": recipe, "error": err[:120]})
                else:
                    rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
                print(
                    f"  {shape} {method} {recipe}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True
                )
    return rows


def run_gpu_tests() -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", "tests/train/test_gpu.py"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    lines = [line for line in proc.stdout.strip().splitlines() if line.strip()]
    return lines[-1] if lines else f"pytest exited {proc.returncode}: {proc.stderr.strip()[-200:]}"


def vllm_check() -> str:
    if importlib.util.find_spec("vllm") is None:
        return "not installed on this machine (vLLM's wheel is too large to travel with the project): not run"
    proc = subprocess.run(
        [sys.executable, __file__, "--vllm-one"], capture_output=True, text=True, cwd=ROOT, timeout=900
    )
    if proc.returncode != 0:
        return "failed: " + ((proc.stderr.strip().splitlines() or ["?"])[-1])[:200]
    return proc.stdout.strip().splitlines()[-1]


def vllm_one() -> None:
    """The tiny clone (a trained adapter) in vLLM on CUDA: greedy parity with HF + PEFT, clone/base throughput."""
    import tempfile

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from vllm import LLM, SamplingParams
    from vllm.lora.request import LoRARequest

    from tests.helpers import train_tiny_clone

    d = Path(tempfile.mkdtemp())
    run, tiny, _ = train_tiny_clone(d)
    tok = AutoTokenizer.from_pretrained(run)
    template = (run / "chat_template.jinja").read_text()
    prompts = [
        tok.apply_chat_template(
            [{"role": "user", "name": "Maya", "content": f"plans for day {i}?"}],
            chat_template=template,
            add_generation_prompt=True,
            tokenize=False,
        )
        for i in range(64)
    ]
    llm = LLM(
        model=str(tiny),
        dtype="float32",
        enable_lora=True,
        max_lora_rank=16,
        enforce_eager=True,
        gpu_memory_utilization=0.3,
    )
    greedy = SamplingParams(temperature=0, max_tokens=32, ignore_eos=True)
    lora = LoRARequest("clone", 1, str(run))
    started = time.perf_counter()
    clone = llm.generate(prompts, greedy, lora_request=lora, use_tqdm=False)
    clone_s = time.perf_counter() - started
    started = time.perf_counter()
    llm.generate(prompts, greedy, use_tqdm=False)
    base_s = time.perf_counter() - started
    model = (
        PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32), str(run))
        .cuda()
        .eval()
    )
    same = 0
    for prompt, out in zip(prompts[:8], clone[:8], strict=False):
        ids = tok(prompt, return_tensors="pt", add_special_tokens=False).input_ids.cuda()
        with torch.no_grad():
            hf = model.generate(ids, max_new_tokens=32, min_new_tokens=32, do_sample=False)[0][ids.shape[1] :].tolist()
        same += hf == list(out.outputs[0].token_ids)
    tokens = 64 * 32
    print(
        f"greedy parity with HF+PEFT {same}/8 prompts; clone {tokens / clone_s:,.0f} tok/s, base "
        f"{tokens / base_s:,.0f} tok/s ({base_s / clone_s:.2f}x)"
    )


def table(rows: list[dict], tests: str, vllm: str, device: str) -> str:
    lines = [
        f"clonekit gpu_check on {device}",
        "",
        "| shape | method | recipe | real tokens/s | peak GiB | vs hf-peft | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['shape']} | {r['method']} | {r['recipe']} | failed: {r['error']} | | | |")
            continue
        base = next(
            (
                b
                for b in rows
                if b.get("recipe") == "hf-peft"
                and b["shape"] == r["shape"]
                and b["method"] == r["method"]
                and "error" not in b
            ),
            None,
        )
        ratio = f"{r['tokens_per_s'] / base['tokens_per_s']:.2f}x" if base else "-"
        target = ""
        if r["recipe"] == "clonekit" and (r["shape"], r["method"]) in TARGETS:
            tps, gib = TARGETS[(r["shape"], r["method"])]
            met = r["tokens_per_s"] >= tps and (gib is None or r["peak_gib"] <= gib)
            target = f">= {tps:,}" + (f" @ <= {gib:g} GiB" if gib else "") + (": met" if met else ": NOT met")
        lines.append(
            f"| {r['shape']} | {r['method']} | {r['recipe']} | {r['tokens_per_s']:,.0f} | "
            f"{r['peak_gib']:.1f} | {ratio} | {target} |"
        )
    lines += ["", f"GPU-marked tests: {tests}", f"vLLM on CUDA: {vllm}"]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="toy sizes: checks the script itself, on any machine")
    ap.add_argument("--steps", type=int, default=6, help="timed optimizer steps per row (after 2 warm-up steps)")
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--skip-tests", action="store_true")
    ap.add_argument("--one", nargs=3, metavar=("SHAPE", "METHOD", "RECIPE"), help=argparse.SUPPRESS)
    ap.add_argument("--vllm-one", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(train_row(*args.one, args.steps)))
        return
    if args.vllm_one:
        vllm_one()
        return
    import torch

    if not torch.cuda.is_available() and not args.smoke:
        sys.exit("gpu_check: no CUDA GPU here (torch.cuda.is_available() is False); --smoke checks the script on CPU")
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu (smoke)"
    started = time.perf_counter()
    rows = (
        []
        if args.skip_train
        else run_training(["smoke"] if args.smoke else ["llama-1b", "llama-8b"], 2 if args.smoke else args.steps)
    )
    tests = "skipped" if args.skip_tests else run_gpu_tests()
    vllm = "skipped (--smoke)" if args.smoke else vllm_check()
    print(table(rows, tests, vllm, device))
    print(f"\n(gpu_check took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
