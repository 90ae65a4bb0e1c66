"""`clonekit prep pairs`: preference pairs (clonekit/pairs.py) from a built dataset, against the clone's loops.

For each of the person's turns that answers someone (its context ends with another speaker's message):
- chosen: what the person really wrote;
- rejected: what a looping clone writes there. Either a copy of the person's own latest earlier reply in the same
  chat ("copy", the cross-turn loop), or, without one, the person's most over-used reply in the whole dataset
  ("overused", the "lol" loop), whichever differs from the real reply.
DPO on these pairs moves probability from the loop to the real reply, relative to the adapter it starts from.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson

from clonekit.dataset import TRAIN_FILE
from clonekit.errors import ClonekitError
from clonekit.jsonl import iter_jsonl
from clonekit.pairs import PAIRS_FILE, Pair
from clonekit.paths import readable_file, writable_file
from clonekit.repetition import normalize

TRAIN_HINT = "a train.jsonl from `clonekit prep build`"


def _clean(m: dict) -> dict:
    return {k: m[k] for k in ("role", "name", "content") if k in m}


def _target_replies(examples: list[list[dict]]) -> Counter:
    return Counter(
        normalize(m["content"]) for ex in examples for m in ex if m.get("role") == "assistant" and m.get("weight", 1)
    )


def pairs_from_examples(examples: list[list[dict]], max_pairs: int | None = None) -> tuple[list[Pair], Counter]:
    """(pairs, counts by source and by reason skipped)."""
    counts: Counter[str] = Counter()
    replies = _target_replies(examples)
    overused_text: dict[str, str] = {}
    for ex in examples:
        for m in ex:
            if m.get("role") == "assistant":
                overused_text.setdefault(normalize(m["content"]), m["content"])
    ranked = [overused_text[k] for k, _ in replies.most_common(2) if k]
    pairs = []
    for ex in examples:
        for i, m in enumerate(ex):
            if m.get("role") != "assistant" or not m.get("weight", 1):
                continue
            if i == 0 or ex[i - 1]["role"] == "assistant":
                counts["skipped: not an answer to someone"] += 1
                continue
            earlier = [e["content"] for e in ex[:i] if e["role"] == "assistant"]
            real = m["content"]
            if earlier and normalize(earlier[-1]) != normalize(real):
                rejected, source = earlier[-1], "prep:copy"
            else:
                rejected = next((r for r in ranked if normalize(r) != normalize(real)), None)
                source = "prep:overused"
            if rejected is None:
                counts["skipped: no loop to contrast"] += 1
                continue
            pairs.append(Pair([_clean(c) for c in ex[:i]], real, rejected, source))
            counts[source] += 1
    if max_pairs is not None and len(pairs) > max_pairs:
        step = len(pairs) / max_pairs  # an even spread over the whole history, deterministic
        pairs = [pairs[int(k * step)] for k in range(max_pairs)]
    return pairs, counts


def write_pairs(data_dir: str | Path, out: str | Path | None = None, max_pairs: int | None = 2000) -> dict:
    """Write pairs from DATA/train.jsonl to `out` (default DATA/pairs.jsonl); returns a summary."""
    data_dir = Path(data_dir)
    train = readable_file(data_dir / TRAIN_FILE, TRAIN_FILE)
    examples = []
    for lineno, obj in iter_jsonl(train, TRAIN_HINT):
        messages = obj.get("messages")
        if not isinstance(messages, list) or not all(
            isinstance(m, dict) and "role" in m and "content" in m for m in messages
        ):
            raise ClonekitError(f"not a chat example; expected {TRAIN_HINT}", train, lineno)
        examples.append(messages)
    pairs, counts = pairs_from_examples(examples, max_pairs)
    if not pairs:
        raise ClonekitError(
            "no preference pairs could be made: the dataset has no turn of the person that answers someone", train
        )
    out = writable_file(out or data_dir / PAIRS_FILE, "pairs file")
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "wb") as f:
        for pair in pairs:
            f.write(orjson.dumps(pair.as_record()) + b"\n")
    tmp.replace(out)
    return {
        "out": str(out),
        "pairs": len(pairs),
        "by_source": dict(Counter(p.source for p in pairs)),
        "made": sum(v for k, v in counts.items() if k.startswith("prep:")),
        "skipped": {k[len("skipped: ") :]: v for k, v in counts.items() if k.startswith("skipped: ")},
    }
