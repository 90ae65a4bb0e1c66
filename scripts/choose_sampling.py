"""Measure repetition under several sampling settings, to choose the clone's serving defaults.

    .venv/bin/python scripts/choose_sampling.py [--run runs/demo] [--contexts 32] [--samples 2]

Starts `clonekit serve` on the adapter and, for every setting of the grid, answers each held-out context
(the conversation up to one of the target's turns) `--samples` times. Per setting it prints: the share of
degenerate replies (clonekit.repetition.is_degenerate: an n-gram repeated 3+ times in a row), the share of
replies that hit the token limit (no end-of-turn: a loop or a ramble), the share repeating an earlier reply
to the same context word for word, distinct bigrams, and the median length in words against the real
replies' median. The chosen defaults live in clonekit/manifest.py (SAMPLING_DEFAULTS).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GRID = [  # (temperature, top_p, repetition_penalty, frequency_penalty)
    (0.0, 1.0, 1.0, 0.0),
    (0.7, 0.95, 1.0, 0.0),
    (0.8, 0.95, 1.15, 0.0),  # repetition_penalty also hits the end-of-turn token seen in every earlier turn
    (0.8, 0.95, 1.3, 0.0),
    (0.7, 0.95, 1.0, 0.3),  # frequency_penalty counts only generated tokens
    (0.7, 0.95, 1.0, 0.6),
    (0.8, 0.95, 1.0, 0.6),
    (0.7, 0.95, 1.0, 1.0),
]


def contexts(run: Path, n: int) -> list[tuple[list[dict], str]]:
    data = Path(json.loads((run / "clonekit.json").read_text())["dataset"]["dir"])
    out = []
    for line in (data / "valid.jsonl").read_text(encoding="utf-8").splitlines() + \
            (data / "train.jsonl").read_text(encoding="utf-8").splitlines()[::-1]:
        msgs = json.loads(line)["messages"]
        for i, m in enumerate(msgs):
            if m["role"] == "assistant" and m.get("weight") and len(out) < n:
                out.append(([{k: v for k, v in x.items() if k != "weight"} for x in msgs[:i]], m["content"]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", default=str(ROOT / "runs/demo"))
    ap.add_argument("--contexts", type=int, default=32)
    ap.add_argument("--samples", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=96)
    args = ap.parse_args()

    import openai

    from clonekit.repetition import is_degenerate, normalize
    from serve import Server, plan_server
    from serve.launcher import free_port

    run = Path(args.run)
    ctx = contexts(run, args.contexts)
    real_median = statistics.median(len(r.split()) for _, r in ctx)
    port = free_port()
    plan = plan_server([f"clone={run}"], port=port)
    (ROOT / "bench_out").mkdir(exist_ok=True)
    rows = []
    with Server(plan, log_path=ROOT / "bench_out" / "choose_sampling_vllm.log") as server:
        server.wait_ready()
        client = openai.OpenAI(base_url=plan.base_url, api_key="none", timeout=600)
        for temperature, top_p, penalty, frequency in GRID:
            def answer(job):
                (msgs, _), k = job
                r = client.chat.completions.create(model="clone", messages=msgs, max_tokens=args.max_tokens,
                                                   temperature=temperature, top_p=top_p, seed=k,
                                                   frequency_penalty=frequency,
                                                   extra_body={"repetition_penalty": penalty})
                return r.choices[0].message.content, r.choices[0].finish_reason

            jobs = [(c, k) for c in ctx for k in range(args.samples)]
            with ThreadPoolExecutor(16) as pool:
                replies = list(pool.map(answer, jobs))
            texts = [t for t, _ in replies]
            same = sum(1 for i in range(0, len(texts), args.samples)
                       for j in range(1, args.samples) if normalize(texts[i + j]) == normalize(texts[i])) if temperature else 0
            bigrams = [tuple(w) for t in texts for w in zip(t.split(), t.split()[1:])]
            rows.append({"temperature": temperature, "top_p": top_p, "repetition_penalty": penalty,
                         "frequency_penalty": frequency,
                         "degenerate": sum(map(is_degenerate, texts)) / len(texts),
                         "hit_limit": sum(f == "length" for _, f in replies) / len(texts),
                         "same_reply": same / max(1, len(ctx) * (args.samples - 1)),
                         "distinct_2": len(set(bigrams)) / max(1, len(bigrams)),
                         "median_words": statistics.median(len(t.split()) for t in texts)})
    print(f"\nsampling on {run}: {len(ctx)} held-out contexts x {args.samples} samples, max {args.max_tokens} tokens; "
          f"real replies' median: {real_median:g} words")
    print(f"{'temp':>5} {'top_p':>5} {'rep_pen':>7} {'freq_pen':>8} {'degenerate':>10} {'hit_limit':>9} {'same':>5} {'distinct-2':>10} {'median words':>12}")
    for r in rows:
        print(f"{r['temperature']:5.1f} {r['top_p']:5.2f} {r['repetition_penalty']:7.2f} {r['frequency_penalty']:8.1f} {r['degenerate']:10.0%} "
              f"{r['hit_limit']:9.0%} {r['same_reply']:5.0%} {r['distinct_2']:10.2f} {r['median_words']:12g}")
    (ROOT / "bench_out" / "choose_sampling.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
