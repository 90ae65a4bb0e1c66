"""Does memory help? Questions about facts people told the clone earlier (a facts file: one JSON object a line with
`person`, `question`, `answer`, `asked`; `clonekit sample` writes one for its planted facts), asked in the held-out
period, each twice: with the memory block the bot would build at that time (dataset memory.sqlite, snippets written
before the question only) and without. Recall = share of replies that contain the answer (case-insensitive)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from clonekit.chat import turn
from clonekit.compare.endpoints import Endpoint, generate
from clonekit.compare.intervals import mean_interval
from clonekit.errors import ClonekitError
from clonekit.memory import MEMORY_FILE, Embedder, MemoryStore, recall, with_memory


def load_facts(path: str | Path, valid_from: str | None) -> list[dict]:
    facts = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            try:
                fact = json.loads(line)
                fact["asked"], fact["person"], fact["question"], fact["answer"]  # noqa: B018 - required keys
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise ClonekitError(
                    f"not a facts line ({e}): needs person, question, answer, asked", path, lineno
                ) from None
            if valid_from is None or fact["asked"][:19] >= valid_from[:19]:
                facts.append(fact)
    return facts


def memory_recall(
    ep: Endpoint, data_dir: str | Path, facts: list[dict], system_prompt: str, cfg, max_tokens: int, concurrency: int
) -> dict:
    """recall_with / recall_without (with 95 % bootstrap intervals) for one endpoint."""
    path = Path(data_dir) / MEMORY_FILE
    store = MemoryStore(path)
    embedder = Embedder("compare")
    with_mem, without = [], []
    blocks = 0
    for fact in facts:
        # before the minute the question was asked (exports keep minutes: a snippet of that minute is the question)
        turns = [turn(fact["person"], fact["question"])]
        block = recall(store, embedder, turns, fact["asked"][:16], cfg.top_k, cfg.min_similarity, cfg.budget_tokens)
        blocks += bool(block and fact["answer"].lower() in block.lower())
        user = {"role": "user", "name": fact["person"], "content": fact["question"]}
        with_mem.append([{"role": "system", "content": with_memory(system_prompt, block)}, user])
        without.append([{"role": "system", "content": system_prompt}, user])
    store.close()
    gens, _ = asyncio.run(generate(ep, with_mem + without, max_tokens, concurrency, None))
    hits = [float(f["answer"].lower() in g.text.lower()) for f, g in zip(facts * 2, gens, strict=True)]
    n = len(facts)
    a, b = hits[:n], hits[n:]
    recall_with, recall_without = sum(a) / n, sum(b) / n
    return {
        "questions": n,
        "recall_with": recall_with,
        "recall_with_interval": mean_interval(a),
        "recall_without": recall_without,
        "recall_without_interval": mean_interval(b),
        "ratio": recall_with / recall_without if recall_without else None,
        "answer_in_memory_block": blocks / n if n else None,
        "samples": [
            {"question": f["question"], "answer": f["answer"], "with": gens[i].text, "without": gens[n + i].text}
            for i, f in enumerate(facts[:5])
        ],
    }
