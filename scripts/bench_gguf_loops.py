"""Benchmark: loops of the exported clone under llama.cpp's server, beside the base model's GGUF, in one run.

    .venv/bin/python scripts/bench_gguf_loops.py [--run runs/demo] [--chats 100] [--turns 10] [--quant q8_0]

Exports the clone as a GGUF and its base as a GGUF (`clonekit export -f gguf`, `-f lora-gguf --with-base`), starts
`clonekit serve --gguf` for each (llama-cpp-python's server with the exported settings: llama.cpp's DRY sampler,
the clone's sampling defaults, names kept), and runs compare's raw self-play against each with a plain OpenAI
client: N chats of T clone turns, the partners' lines replayed from the run's held-out sessions. A loop is
clonekit.repetition.is_loop (3+ consecutive near-identical replies), the definition compare and the bot use.
Targets (issue 22): the clone loops in <= 5% of chats, and no more often than the base GGUF.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def start(gguf: Path, name: str, port: int, log: Path, dry: bool) -> subprocess.Popen:
    argv = [sys.executable, "-m", "clonekit.cli", "serve", "--gguf", str(gguf), "--name", name, "--port", str(port)]
    proc = subprocess.Popen(
        argv + ([] if dry else ["--no-anti-loop"]),
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the GGUF server exited: {log}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2)
            return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    sys.exit(f"the GGUF server did not start: {log}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", default=str(ROOT / "runs/demo"))
    ap.add_argument("--chats", type=int, default=100)
    ap.add_argument("--turns", type=int, default=10)
    ap.add_argument("--quant", default="q8_0")
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--no-dry", action="store_true", help="serve without DRY (to see what it does)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench_out" / "gguf_loops")
    args = ap.parse_args()
    run = Path(args.run)
    if not (run / "clonekit.json").exists():
        sys.exit(f"{run} is not an adapter directory: run ./scripts/demo.sh (or clonekit train) first")
    from clonekit.compare.cases import load_heldout
    from clonekit.compare.endpoints import Endpoint
    from clonekit.compare.selfplay import self_play, summarize
    from clonekit.serve.launcher import free_port
    from clonekit.train.export import export

    args.out.mkdir(parents=True, exist_ok=True)
    quiet = lambda s: None  # noqa: E731
    clone = export(run, "gguf", args.out / f"clone.{args.quant}.gguf", quant=args.quant, log=quiet)
    export(run, "lora-gguf", args.out / "clone.lora.gguf", quant=args.quant, with_base=True, log=quiet)
    base = args.out / f"base.{args.quant.upper()}.gguf"
    manifest = json.loads((run / "clonekit.json").read_text())
    held = load_heldout(manifest["dataset"]["dir"])
    results = {}
    for name, path in (("clone", clone), ("base", base)):
        port = free_port()
        proc = start(path, name, port, args.out / f"{name}.log", not args.no_dry)
        try:
            ep = Endpoint(name, f"http://127.0.0.1:{port}/v1", name)
            started = time.perf_counter()
            # one chat after another, its turns in order: llama-cpp-python's server runs one request at a time and
            # keeps the last prompt's KV cache, so each turn only prefills what is new (interleaving the chats, as
            # compare's concurrent self-play does, would prefill the whole history every turn: ~5x slower)
            transcripts = []
            for i in range(args.chats):
                script = held.partner_scripts[i % len(held.partner_scripts)]
                one = asyncio.run(
                    self_play(ep, [script], held.system_prompt, 1, args.turns, args.max_tokens, concurrency=1)
                )
                transcripts += one["transcripts"]
                if (i + 1) % 10 == 0:
                    print(f"{name}: {i + 1} chats, {time.perf_counter() - started:.0f} s", flush=True)
            play = {**summarize(transcripts), "transcripts": transcripts, "seconds": time.perf_counter() - started}
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(30)
        results[name] = play
        print(
            f"{name}: loops {play['loop_rate']:.1%} of {play['chats']} chats, cross-turn repeats "
            f"{play['cross_turn_repeat_rate']:.1%}, degenerate {play['degenerate_reply_rate']:.1%}, "
            f"{play['seconds']:.0f} s",
            flush=True,
        )
    (args.out / "loops.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    c, b = results["clone"]["loop_rate"], results["base"]["loop_rate"]
    print(f"\nllama.cpp {args.quant}, DRY {'off' if args.no_dry else 'on'}, {args.chats} chats x {args.turns} turns")
    print(
        f"clone loops {c:.1%} (target <= 5%: {'met' if c <= 0.05 else 'NOT met'}); base GGUF {b:.1%} "
        f"(clone <= base: {'met' if c <= b else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
