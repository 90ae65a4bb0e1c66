"""Measure loops, fidelity and length under several sampling settings, to choose the clone's serving defaults.

    .venv/bin/python scripts/choose_sampling.py [--run runs/demo] [--chats 24] [--turns 10] [--merged]

Starts `clonekit serve` on the adapter (anti-loop processor on, as served by default) and, for every setting of the
grid, plays `--chats` self-play chats of `--turns` clone turns through a plain OpenAI client, the partners' lines
replayed from the dataset's sessions (held-out first), as `clonekit compare` does. Per setting it prints: loop_rate
(clonekit.repetition.is_loop), the cross-turn repeat rate, degenerate replies, replies that hit the token limit,
the style classifier's P(target) and the median length in words against the real replies'. The chosen defaults
live in clonekit/manifest.py (SAMPLING_DEFAULTS); the figures of the last choice are in the README.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GRID = [  # (temperature, top_p, frequency_penalty, presence_penalty)
    (0.6, 0.9, 0.0, 0.0),
    (0.8, 0.95, 0.0, 0.0),
    (0.8, 0.95, 0.6, 0.0),
    (1.0, 0.95, 0.3, 0.0),
    (0.8, 0.9, 0.3, 0.3),
]


async def _play(base_url, model, scripts, system, chats, turns, max_tokens, sampling, history=20):
    import openai

    from clonekit.chat import render_turns

    client = openai.AsyncOpenAI(base_url=base_url, api_key="none", timeout=600)  # one per event loop
    gate = asyncio.Semaphore(64)

    async def one(script):
        log, replies, finish = [], [], []
        for t in range(turns):
            speaker, text = script[t % len(script)]
            log.append((speaker, text, False))
            async with gate:
                r = await client.chat.completions.create(
                    model=model, messages=render_turns(log[-history:], system), max_tokens=max_tokens, **sampling
                )
            reply = (r.choices[0].message.content or "").strip()
            replies.append(reply)
            finish.append(r.choices[0].finish_reason)
            if reply:
                log.append(("clone", reply, True))
        return replies, finish

    try:
        return await asyncio.gather(*(one(scripts[i % len(scripts)]) for i in range(chats)))
    finally:
        await client.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", default=str(ROOT / "runs/demo"))
    ap.add_argument("--chats", type=int, default=24)
    ap.add_argument("--turns", type=int, default=10)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--merged", action="store_true", help="serve with --merged (faster clone on CPU)")
    args = ap.parse_args()

    from clonekit.compare.cases import load_heldout
    from clonekit.compare.style import train_authorship
    from clonekit.repetition import cross_turn_repeats, is_degenerate, is_loop
    from clonekit.serve import Server, plan_server
    from clonekit.serve.launcher import free_port

    run = Path(args.run)
    data = Path(json.loads((run / "clonekit.json").read_text())["dataset"]["dir"])
    held = load_heldout(data)
    style = train_authorship(held.train_turns, held.target)
    real_median = statistics.median(len(c.reply.split()) for c in held.cases)
    plan = plan_server([f"clone={run}"], port=free_port(), merged=args.merged)
    (ROOT / "bench_out").mkdir(exist_ok=True)
    rows = []
    with Server(plan, log_path=ROOT / "bench_out" / "choose_sampling_vllm.log") as server:
        server.wait_ready()
        for temperature, top_p, frequency, presence in GRID:
            sampling = {
                "temperature": temperature,
                "top_p": top_p,
                "frequency_penalty": frequency,
                "presence_penalty": presence,
                "seed": 0,
            }
            start = time.perf_counter()
            chats = asyncio.run(
                _play(
                    plan.base_url,
                    "clone",
                    held.partner_scripts,
                    held.system_prompt,
                    args.chats,
                    args.turns,
                    args.max_tokens,
                    sampling,
                )
            )
            flat = [r for replies, _ in chats for r in replies if r]
            rows.append(
                {
                    **sampling,
                    "loop_rate": sum(is_loop([r for r in c if r]) for c, _ in chats) / len(chats),
                    "cross_turn_repeat_rate": sum(cross_turn_repeats([r for r in c if r]) for c, _ in chats)
                    / max(1, len(flat)),
                    "degenerate": sum(map(is_degenerate, flat)) / max(1, len(flat)),
                    "hit_limit": sum(f == "length" for _, fs in chats for f in fs) / (len(chats) * args.turns),
                    "style_target_prob": float(style.target_probs(flat).mean()) if flat else 0.0,
                    "median_words": statistics.median(len(r.split()) for r in flat) if flat else 0,
                    "seconds": time.perf_counter() - start,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    print(
        f"\nsampling on {run}: {args.chats} self-play chats x {args.turns} clone turns, max {args.max_tokens} tokens, "
        f"anti-loop processor on; real replies' median: {real_median:g} words"
    )
    print(
        f"{'temp':>5} {'top_p':>5} {'freq':>5} {'pres':>5} {'loops':>6} {'x-turn rep':>10} {'degen':>6} "
        f"{'hit_limit':>9} {'P(target)':>9} {'words':>6}"
    )
    for r in rows:
        print(
            f"{r['temperature']:5.1f} {r['top_p']:5.2f} {r['frequency_penalty']:5.1f} {r['presence_penalty']:5.1f} "
            f"{r['loop_rate']:6.0%} {r['cross_turn_repeat_rate']:10.1%} {r['degenerate']:6.1%} {r['hit_limit']:9.0%} "
            f"{r['style_target_prob']:9.3f} {r['median_words']:6g}"
        )
    (ROOT / "bench_out" / "choose_sampling.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
