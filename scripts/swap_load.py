"""Keep sending chat requests to a clone while it is hot-swapped; count failures and which version answered.

    python scripts/swap_load.py --base-url http://127.0.0.1:8767/v1 --model clone --stop-file STOP --out load.json

Runs until STOP exists, with --workers requests in flight; writes {"requests", "failed", "errors", "versions":
{version: count}, "timeline": [[t, version], ...]} and prints one line."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections import Counter
from pathlib import Path


async def main(args) -> dict:
    import openai

    client = openai.AsyncOpenAI(
        base_url=args.base_url, api_key=os.environ.get("CLONEKIT_API_KEY") or "none", max_retries=0, timeout=120
    )
    stats = {"requests": 0, "failed": 0, "errors": [], "versions": Counter(), "timeline": []}
    start = time.monotonic()
    messages = [{"role": "user", "name": "Sam", "content": "anyone up for pizza tonight?"}]

    async def worker():
        while not Path(args.stop_file).exists():
            try:
                r = await client.chat.completions.create(
                    model=args.model, messages=messages, max_tokens=args.max_tokens
                )
                stats["versions"][r.model] += 1
                stats["timeline"].append([round(time.monotonic() - start, 2), r.model])
            except openai.OpenAIError as e:
                stats["failed"] += 1
                stats["errors"].append(f"{type(e).__name__}: {e}"[:200])
            stats["requests"] += 1

    await asyncio.gather(*(worker() for _ in range(args.workers)))
    await client.close()
    return stats


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base-url", required=True)
    p.add_argument("--model", default="clone")
    p.add_argument("--stop-file", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--max-tokens", type=int, default=8)
    args = p.parse_args()
    stats = asyncio.run(main(args))
    stats["versions"] = dict(stats["versions"])
    Path(args.out).write_text(json.dumps(stats, indent=1))
    print(
        f"load during the swaps: {stats['requests']} requests, {stats['failed']} failed; answered by "
        + ", ".join(f"{v} {n}" for v, n in stats["versions"].items())
    )
