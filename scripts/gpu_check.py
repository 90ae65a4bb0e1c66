"""Every GPU path of clonekit in one run, one table (scripts/gpu_check.sh sets up and calls this).

    python scripts/gpu_check.py [--smoke] [--steps N] [--skip-train] [--skip-e2e] [--skip-tests] [--out DIR]

1. Training throughput and peak memory on Llama-3.2-1B and Llama-3.1-8B shapes (random weights), LoRA r16 on all
   linear layers and QLoRA: chat-length sessions (lognormal, median ~250 tokens, 32..2048), 4,096 real tokens per
   optimizer step, 2 warm-up steps (reported apart) and then --steps timed steps (20 by default). Each row is a
   fresh process. Recipes, measured in the same run:
     naive          HF + PEFT with padded batches (one row per chat, an attention mask), sdpa, full logits, gradient
                    checkpointing, bf16 weights and autocast (8B LoRA only: the recipe people start with);
     hf-peft        HF + PEFT on packed rows (position_ids), sdpa over the block-diagonal mask, the model's own loss
                    over full logits, gradient checkpointing, bf16 weights and autocast (HF Trainer's bf16=True);
     clonekit       what `clonekit train` runs, built by clonekit's own functions: the attention chosen for this
                    device (train/attention_choice.py), the memory plan (train/memory_plan.py) for the recipe's
                    budget, TRL's fused LM head as SFTTrainer adds it, the same precision. Its budget is the
                    config's `memory_gib` (configs/gpu-8b-lora-24gb.yaml, configs/gpu-8b-qlora-12gb.yaml) and never
                    more than the hf-peft row's measured peak, so a clonekit row never uses more memory than it;
     clonekit-card  clonekit with the whole card (no budget: no checkpointing where the activations fit).
   The share of the GPU's bf16 peak: model FLOPs per token (4 per matmul weight: the forward and the input
   gradients; a recompute is not useful work) x tokens/s / the GPU's dense bf16 peak from its spec sheet.
2. End to end: `clonekit train` with configs/gpu-8b-lora-24gb.yaml and configs/gpu-8b-qlora-12gb.yaml on a
   random-weight Llama-3.1-8B checkpoint written to a temporary folder, and the 24 GB config on the 1B shape, on the
   bundled sample chat; tokens/s is the run manifest's steady rate, compared with the matching clonekit row.
3. The GPU-marked tests (pytest -m gpu: exactness of the CUDA attention against eager, QLoRA, bf16, checkpointing).
4. vLLM on CUDA: whether it is installed; when it is, the tiny clone as a LoRA adapter against HF + PEFT.

The table goes to stdout and, as Markdown and JSON, to --out (bench_out/gpu_check/ by default).
--smoke runs every path at toy sizes (tiny shapes, CPU allowed) to check the script itself without a GPU (CI runs it).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import random
import subprocess
import sys
import tempfile
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
        vocab_size=49152,  # the default tokenizer's ids fit (the end-to-end smoke row trains on the sample chat)
        rope_theta=10000.0,
    ),
}
CONFIGS = {"lora": ROOT / "configs/gpu-8b-lora-24gb.yaml", "qlora": ROOT / "configs/gpu-8b-qlora-12gb.yaml"}
# (shape, method, recipe) in the order they run; the hf-peft row of a (shape, method) runs before its clonekit rows
ROWS = [
    ("llama-1b", "lora", "hf-peft"),
    ("llama-1b", "lora", "clonekit"),
    ("llama-1b", "qlora", "hf-peft"),
    ("llama-1b", "qlora", "clonekit"),
    ("llama-8b", "lora", "naive"),
    ("llama-8b", "lora", "hf-peft"),
    ("llama-8b", "lora", "clonekit"),
    ("llama-8b", "lora", "clonekit-card"),
    ("llama-8b", "qlora", "hf-peft"),
    ("llama-8b", "qlora", "clonekit"),
]
E2E = [("llama-8b", "lora"), ("llama-8b", "qlora"), ("llama-1b", "lora")]  # config: CONFIGS[method]
# the issue's targets: (shape, method, recipe) -> (tokens/s at least, peak GiB at most)
TARGETS = {
    ("llama-8b", "lora", "clonekit"): (11_000, 20.0),
    ("llama-8b", "lora", "clonekit-card"): (15_000, None),
    ("llama-8b", "qlora", "clonekit"): (9_000, 10.0),
    ("llama-1b", "lora", "clonekit"): (40_000, None),
}
PEAK_BF16_TFLOPS = [  # dense bf16 tensor-core peak from the spec sheets (first match in the device name)
    ("H200", 989.0),
    ("H100 PCIe", 756.0),
    ("H100", 989.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L4", 121.0),
    ("RTX 4090", 165.0),
    ("RTX 3090", 71.0),
]
STEP_TOKENS = 4096
SMOKE_TOKENS = 512
WARMUP = 2


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


def peak_tflops(device_name: str) -> tuple[str, float] | None:
    for name, tflops in PEAK_BF16_TFLOPS:
        if name in device_name:
            return name, tflops
    return None


def flops_per_token(shape: str) -> float:
    """4 FLOPs per matmul weight per token (forward 2, input gradients 2; frozen weights get no weight gradient)."""
    from clonekit.train.memory_plan import shape_of

    s = shape_of(SHAPES[shape])
    assert s is not None
    return 4.0 * (s.linear_params + s.vocab * s.hidden)


def train_config(method: str, budget_gib: float | None, step_tokens: int, device: str):
    """The TrainConfig of a clonekit row: the method's YAML recipe, one packed row of `step_tokens` per step (on a
    CPU smoke run, the precision this CPU has)."""
    import yaml

    from clonekit.config import TrainConfig

    recipe = yaml.safe_load(CONFIGS[method].read_text())
    recipe.update(row_tokens=step_tokens, max_seq_len=min(recipe["max_seq_len"], step_tokens), rows_per_step=1)
    recipe["memory_gib"] = budget_gib
    if device != "cuda":
        recipe.update(dtype="auto", mixed_precision="auto")
    return TrainConfig(**recipe)


def build_model(shape: str, method: str, recipe: str, device: str, budget_gib: float | None, step_tokens: int):
    """(model ready to train, bf16 autocast?, facts for the table): random weights, bf16 (the CPU's precision on a
    smoke run)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    from clonekit.train import attention
    from clonekit.train.attention_choice import attention_facts, choose_attention
    from clonekit.train.memory_plan import device_budget, plan_memory, shape_of
    from clonekit.train.model import (
        compute_dtype,
        element_bytes,
        precision,
        prepare_for_training,
        score_only_target_positions,
    )

    attention.register()
    facts: dict = {}
    clonekit = recipe.startswith("clonekit")
    if clonekit:  # decided before the weights exist, as `clonekit train` does
        cfg = train_config(method, budget_gib, step_tokens, device)
        prec = precision(cfg, device)
        choice = choose_attention("auto", attention_facts(device, compute_dtype(prec)))
        weight, act = element_bytes(prec)
        plan = plan_memory(shape_of(SHAPES[shape]), cfg, step_tokens, weight, act, device_budget(cfg, device))
        attn, dtype, autocast = choice.name, prec.dtype, prec.bf16_autocast
        facts.update(attention=choice.name, plan=plan.line(), estimate_gib=plan.estimate_gib)
    else:
        attn, dtype, autocast = "sdpa", torch.bfloat16 if device == "cuda" else torch.float32, device == "cuda"
        facts.update(attention="sdpa")
    config = LlamaConfig(**SHAPES[shape], attn_implementation=attn)
    with torch.device(device):
        model = LlamaForCausalLM(config).to(dtype)
    if method == "qlora":
        model = quantize_nf4(model, device, dtype)
    model.config.use_cache = False
    if clonekit:
        from trl.trainer.utils import add_fused_lm_head

        score_only_target_positions()
        add_fused_lm_head(model, outputs=("log_probs", "entropy", "is_top1"))  # what SFTTrainer adds
        model = prepare_for_training(model, cfg, plan, device)
        facts["checkpointed"] = f"{plan.checkpointed_layers}/{plan.layers}"
        return model, autocast, facts
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"))
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.enable_input_require_grads()
    model.train()
    facts["checkpointed"] = "all"
    return model, autocast, facts


def quantize_nf4(model, device: str, compute_dtype):
    """Every Linear but the LM head as a bitsandbytes NF4 Linear4bit (double quantization): what
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
                    compute_dtype=compute_dtype,
                    compress_statistics=True,
                    quant_type="nf4",
                    device="meta",
                )
                # quantized where the weight already is: .to(device) quantizes (no CPU round trip of 8B weights)
                q.weight = bnb.nn.Params4bit(
                    child.weight.data, requires_grad=False, quant_type="nf4", compress_statistics=True
                ).to(device)
                setattr(module, child_name, q)
        if device == "cuda":
            torch.cuda.empty_cache()
    model.is_loaded_in_4bit = True  # PEFT then wraps the 4-bit layers with its bnb LoRA layers
    return model


def train_row(shape: str, method: str, recipe: str, steps: int, budget_gib: float | None) -> dict:
    import torch

    from clonekit.train.dataset import padding_free_collator

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    step_tokens = STEP_TOKENS if shape != "smoke" else SMOKE_TOKENS
    model, autocast, facts = build_model(shape, method, recipe, device, budget_gib, step_tokens)
    vocab = SHAPES[shape]["vocab_size"]
    plan = steps_of(sessions(step_tokens * (steps + WARMUP + 2), vocab), step_tokens)
    assert len(plan) >= WARMUP + steps, "not enough sessions for the timed steps"
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    collate = padding_free_collator(0)

    def batch_for(group):
        if recipe == "naive":
            width = max(len(ids) for ids, _ in group)
            ids = torch.zeros((len(group), width), dtype=torch.long)  # (B, T) right-padded
            labels = torch.full((len(group), width), -100, dtype=torch.long)
            mask = torch.zeros((len(group), width), dtype=torch.long)
            for b, (x, y) in enumerate(group):
                ids[b, : len(x)], labels[b, : len(y)], mask[b, : len(x)] = torch.tensor(x), torch.tensor(y), 1
            return {"input_ids": ids, "labels": labels, "attention_mask": mask}
        row = {
            "input_ids": sum((ids for ids, _ in group), []),
            "labels": sum((lb for _, lb in group), []),
            "seq_lengths": [len(ids) for ids, _ in group],
        }
        batch = collate([row])
        if recipe == "hf-peft":
            batch = {k: batch[k] for k in ("input_ids", "labels", "position_ids")}
        return batch

    def step(group):
        batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in batch_for(group).items()}
        with torch.autocast(device, dtype=torch.bfloat16, enabled=autocast):
            out = model(**batch, use_cache=False, **({"fused_lm_head": True} if recipe.startswith("clonekit") else {}))
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return out.loss

    def synced():
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()

    started = synced()
    first_loss = float(step(plan[0]))
    for group in plan[1:WARMUP]:
        step(group)  # warm-up: allocations, kernels, autotuning
    first = synced() - started
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = synced()
    for group in plan[WARMUP : WARMUP + steps]:
        step(group)
    seconds = synced() - start
    peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else float("nan")
    return {
        "shape": shape,
        "method": method,
        "recipe": recipe,
        "tokens_per_s": steps * step_tokens / seconds,
        "peak_gib": peak,
        "first_steps_s": first,
        "first_loss": first_loss,
        "budget_gib": budget_gib,
        "device": device,
        **facts,
    }


def run_subprocess(args: list[str], timeout: int) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout, env=_env()
    )
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or ["?"]
        return {"error": lines[-1][:160]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [env.get("PYTHONPATH"), str(ROOT)]))
    return env


def clonekit_budget(method: str, hf_peak: float | None, device: str) -> float | None:
    """The config's memory_gib, never more than 95% of the hf-peft row's measured peak (none on a CPU smoke run)."""
    import yaml

    if device != "cuda":
        return None
    budget = yaml.safe_load(CONFIGS[method].read_text()).get("memory_gib")
    if hf_peak is not None and not math.isnan(hf_peak):
        cap = 0.95 * hf_peak  # the plan's estimate is within ~5-10% of measured peaks: keep clear of hf-peft's
        budget = min(budget, cap) if budget else cap
    return budget


def run_training(smoke: bool, steps: int, device: str) -> list[dict]:
    rows: list[dict] = []
    for shape, method, recipe in ROWS:
        shape = "smoke" if smoke else shape
        if smoke and any(r["shape"] == shape and r["method"] == method and r["recipe"] == recipe for r in rows):
            continue
        hf = next((r for r in rows if (r["shape"], r["method"], r["recipe"]) == (shape, method, "hf-peft")), None)
        budget = None
        if recipe == "clonekit":
            budget = clonekit_budget(method, hf.get("peak_gib") if hf else None, device)
        started = time.perf_counter()
        args = ["--one", shape, method, recipe, "--steps", str(steps)]
        row = run_subprocess(args + (["--budget", str(budget)] if budget else []), timeout=900)
        rows.append({"shape": shape, "method": method, "recipe": recipe, "budget_gib": budget, **row})
        print(f"  {shape} {method} {recipe}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return rows


def write_checkpoint(shape: str, out: Path, device: str) -> Path:
    """A random-weight Llama checkpoint of `shape` (bf16 safetensors) with the default model's tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from clonekit.train.tiny import default_hf_tokenizer

    tok = default_hf_tokenizer()
    config = LlamaConfig(
        **SHAPES[shape],
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        max_position_embeddings=8192,
    )
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)  # build in bf16: an 8B model in fp32 would take 32 GB first
    try:
        with torch.device(device):
            model = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    model.save_pretrained(out, max_shard_size="5GB")
    tok.save_pretrained(out)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return out


def sample_dataset(work: Path, smoke: bool) -> Path:
    """The bundled sample chat, prepared as the demo prepares it (target Maya; the small corpus for --smoke)."""
    from clonekit.config import PrepConfig
    from clonekit.data_prep.build import build_datasets
    from clonekit.data_prep.parse import parse_exports
    from clonekit.samples.exports import write_sample

    info = write_sample(work / "sample", corpus="small" if smoke else "group")
    parse_exports([work / "sample" / info["files"]["whatsapp"]], work / "messages.jsonl")
    build_datasets(work / "messages.jsonl", work / "dataset", PrepConfig(target=info["target"]))
    return work / "dataset"


def e2e_row(shape: str, method: str, model_dir: Path, data: Path, work: Path, steps: int, budget) -> dict:
    """`clonekit train` with the method's YAML (base, steps and the row's budget set), in a fresh process; tokens/s
    is the manifest's steady rate (after the first steps, without evaluations and saves)."""
    import yaml

    recipe = yaml.safe_load(CONFIGS[method].read_text())
    recipe.update(base=str(model_dir), max_steps=steps + 5, eval_every=10_000, early_stopping_patience=0)
    if budget:
        recipe["memory_gib"] = budget
    if shape == "smoke":  # toy rows, and what this CPU runs
        recipe.update(row_tokens=512, max_seq_len=256, memory_gib=None, dtype="auto", mixed_precision="auto")
    config = work / f"{shape}-{method}.yaml"
    config.write_text(yaml.safe_dump(recipe))
    out = work / f"run-{shape}-{method}"
    cmd = [sys.executable, "-m", "clonekit.cli", "train", "--config", str(config), "--data", str(data)]
    proc = subprocess.run(cmd + ["--out", str(out), "--quiet"], capture_output=True, text=True, env=_env(), timeout=900)
    row = {"shape": shape, "method": method, "recipe": f"clonekit train ({CONFIGS[method].name})"}
    if proc.returncode != 0:
        return {**row, "error": ((proc.stderr or proc.stdout).strip().splitlines() or ["?"])[-1][:160]}
    m = json.loads((out / "clonekit.json").read_text())["metrics"]
    return {
        **row,
        "tokens_per_s": m["tokens_per_second_steady"] or m["tokens_per_second"],
        "peak_gib": m["peak_memory_gib"] if m["device"] == "cuda" else float("nan"),
        "first_steps_s": m["first_steps_seconds"],
        "attention": m["attention"],
        "checkpointed": f"{m['checkpointed_layers']}/{(m['memory_plan'] or {}).get('layers', '?')}",
        "budget_gib": budget,
    }


def run_e2e(smoke: bool, steps: int, device: str, rows: list[dict]) -> list[dict]:
    """The E2E rows (one LoRA row on the smoke shape for --smoke), one checkpoint per shape."""
    import shutil

    plan = [("smoke", "lora")] if smoke else E2E
    out = []
    with tempfile.TemporaryDirectory(prefix="clonekit-gpu-check-") as d:
        work = Path(d)
        started = time.perf_counter()
        data = sample_dataset(work, smoke)
        print(f"  e2e dataset: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        for shape in dict.fromkeys(s for s, _ in plan):
            started = time.perf_counter()
            model_dir = write_checkpoint(shape, work / f"model-{shape}", device)
            print(f"  e2e checkpoint {shape}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
            for method in [m for s, m in plan if s == shape]:
                key = (shape, method, "clonekit")
                match = next((r for r in rows if (r["shape"], r["method"], r["recipe"]) == key), {})
                started = time.perf_counter()
                out.append(e2e_row(shape, method, model_dir, data, work, steps, match.get("budget_gib")))
                print(f"  e2e {shape} {method}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
            shutil.rmtree(model_dir, ignore_errors=True)
    return out


def run_gpu_tests() -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", "tests/train/test_gpu.py"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        env=_env(),
    )
    lines = [line for line in proc.stdout.strip().splitlines() if line.strip()]
    failed = [line for line in lines if line.startswith("FAILED")]
    return "; ".join(failed + lines[-1:]) if lines else f"pytest exited {proc.returncode}: {proc.stderr[-200:]}"


def vllm_check() -> str:
    if importlib.util.find_spec("vllm") is None:
        return "not installed on this machine (vLLM's wheel is too large to travel with the project): not run"
    proc = subprocess.run(
        [sys.executable, __file__, "--vllm-one"], capture_output=True, text=True, cwd=ROOT, timeout=900, env=_env()
    )
    if proc.returncode != 0:
        return "failed: " + ((proc.stderr.strip().splitlines() or ["?"])[-1])[:200]
    return proc.stdout.strip().splitlines()[-1]


def vllm_one() -> None:
    """The tiny clone (a trained adapter) in vLLM on CUDA: greedy parity with HF + PEFT, clone/base throughput."""
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


def _fmt(value, spec: str, empty: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return empty
    return format(value, spec)


def table(rows: list[dict], e2e: list[dict], tests: str, vllm: str, device: str, steps: int, tokens: int) -> str:
    peak = peak_tflops(device)
    lines = [
        f"clonekit gpu_check on {device}, {time.strftime('%Y-%m-%d')}: {steps} timed steps of {tokens:,} real "
        f"tokens after {WARMUP} warm-up steps; bf16 peak: "
        + (f"{peak[1]:g} TFLOP/s ({peak[0]}, dense, spec sheet)" if peak else "unknown for this device"),
        "",
        "| shape | method | recipe | tokens/s | peak GiB | bf16 peak share | first steps s | vs hf-peft | attention "
        "| checkpointed | target |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows + e2e:
        if "error" in r:
            lines.append(f"| {r['shape']} | {r['method']} | {r['recipe']} | failed: {r['error']} | | | | | | | |")
            continue
        hf = next(
            (
                b
                for b in rows
                if (b["shape"], b["method"], b["recipe"]) == (r["shape"], r["method"], "hf-peft") and "error" not in b
            ),
            None,
        )
        ratio = f"{r['tokens_per_s'] / hf['tokens_per_s']:.2f}x" if hf and r is not hf else ""
        share = ""
        if peak and r["shape"] in SHAPES and r["shape"] != "smoke":
            share = f"{flops_per_token(r['shape']) * r['tokens_per_s'] / (peak[1] * 1e12):.0%}"
        target = ""
        key = (r["shape"], r["method"], r["recipe"])
        if key in TARGETS:
            tps, gib = TARGETS[key]
            met = r["tokens_per_s"] >= tps and (gib is None or r["peak_gib"] <= gib)
            target = f">= {tps:,}" + (f" @ <= {gib:g} GiB" if gib else "") + (": met" if met else ": NOT met")
        if r in e2e:
            match = next((x for x in rows if (x["shape"], x["method"], x["recipe"]) == (*key[:2], "clonekit")), None)
            if match and "error" not in match:
                diff = r["tokens_per_s"] / match["tokens_per_s"] - 1
                verdict = "within 10%" if abs(diff) <= 0.1 else "NOT within 10%"
                target = f"{diff:+.0%} vs the clonekit row: {verdict}"
        lines.append(
            f"| {r['shape']} | {r['method']} | {r['recipe']} | {r['tokens_per_s']:,.0f} "
            f"| {_fmt(r.get('peak_gib'), '.1f')} | {share} | {_fmt(r.get('first_steps_s'), '.1f')} | {ratio} "
            f"| {r.get('attention', '')} | {r.get('checkpointed', '')} | {target} |"
        )
    lines += ["", f"GPU-marked tests: {tests}", f"vLLM on CUDA: {vllm}"]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="toy sizes: checks the script itself, on any machine")
    ap.add_argument("--steps", type=int, default=20, help="timed optimizer steps per row (after 2 warm-up steps)")
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--skip-e2e", action="store_true")
    ap.add_argument("--skip-tests", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "bench_out" / "gpu_check", help="where table.md/.json go")
    ap.add_argument("--one", nargs=3, metavar=("SHAPE", "METHOD", "RECIPE"), help=argparse.SUPPRESS)
    ap.add_argument("--budget", type=float, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--vllm-one", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(train_row(*args.one, args.steps, args.budget)))
        return
    if args.vllm_one:
        vllm_one()
        return
    import torch

    if not torch.cuda.is_available() and not args.smoke:
        sys.exit("gpu_check: no CUDA GPU here (torch.cuda.is_available() is False); --smoke checks the script on CPU")
    cuda = torch.cuda.is_available()
    device = torch.cuda.get_device_name(0) if cuda else "cpu (smoke)"
    steps = 2 if args.smoke else args.steps
    started = time.perf_counter()
    rows = [] if args.skip_train else run_training(args.smoke, steps, "cuda" if cuda else "cpu")
    e2e = [] if args.skip_e2e else run_e2e(args.smoke, steps, "cuda" if cuda else "cpu", rows)
    tests = "skipped" if args.skip_tests else run_gpu_tests()
    vllm = "skipped (--smoke)" if args.smoke else vllm_check()
    text = table(rows, e2e, tests, vllm, device, steps, SMOKE_TOKENS if args.smoke else STEP_TOKENS)
    seconds = time.perf_counter() - started
    print(text)
    print(f"\n(gpu_check took {seconds:.0f} s)")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text(text + f"\n\n(gpu_check took {seconds:.0f} s)\n")
    result = {"device": device, "steps": steps, "rows": rows, "e2e": e2e, "tests": tests, "vllm": vllm}
    (args.out / "table.json").write_text(json.dumps({**result, "seconds": seconds}, indent=1))
    failed = [r for r in rows + e2e if "error" in r]
    if args.smoke and failed:
        sys.exit(f"gpu_check --smoke: {len(failed)} row(s) failed: " + "; ".join(r["error"] for r in failed))


if __name__ == "__main__":
    main()
