"""Preference pairs: the file `clonekit train --method dpo` learns from, written by `clonekit prep pairs` (and by
the bot's feedback, later). One JSON object per line:

    {"context": [{"role": "system", "content": "You are Deniz..."},
                 {"role": "user", "name": "Maya", "content": "anyone up for pizza"},
                 {"role": "assistant", "content": "ben varım"},
                 {"role": "user", "name": "Oliver", "content": "8?"}],
     "chosen": "tamam 8'de",
     "rejected": "lol",
     "source": "prep:overused"}

- `context`: the chat so far, in the dataset's roles (the cloned person is `assistant`, everyone else `user` with
  a `name`); it ends where the clone's reply begins, so its last message is not the clone's.
- `chosen`: the reply to prefer (the person's real reply, or one a user approved); `rejected`: the reply to move
  away from (a loop, or one a user turned down). Both are plain text, non-empty and different.
- `source` (optional): where the pair came from, kept for the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clonekit.errors import ClonekitError
from clonekit.jsonl import iter_jsonl

PAIRS_FILE = "pairs.jsonl"
PAIRS_HINT = (
    '{"context": [{"role", "content", "name"?}, ...], "chosen": "...", "rejected": "..."} per line '
    "(see `clonekit prep pairs --help`)"
)
ROLES = ("system", "user", "assistant")


@dataclass
class Pair:
    context: list[dict]
    chosen: str
    rejected: str
    source: str = ""

    def as_record(self) -> dict:
        record = {"context": self.context, "chosen": self.chosen, "rejected": self.rejected}
        if self.source:
            record["source"] = self.source
        return record


def pair_problem(obj: dict) -> str | None:
    """What is wrong with one line's object, or None."""
    context = obj.get("context")
    if not isinstance(context, list) or not context:
        return "`context` must be a non-empty list of messages"
    for i, m in enumerate(context):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            return f'context[{i}] must be {{"role": one of {", ".join(ROLES)}, "content": text}}'
        if "name" in m and not isinstance(m["name"], str):
            return f"context[{i}].name must be text"
    if context[-1]["role"] == "assistant":
        return "the context ends with the clone's own message: it must end where the clone's reply begins"
    for key in ("chosen", "rejected"):
        if not isinstance(obj.get(key), str) or not obj[key].strip():
            return f"`{key}` must be non-empty text"
    if obj["chosen"] == obj["rejected"]:
        return "`chosen` and `rejected` are the same text: nothing to prefer"
    return None


def read_pairs(path: str | Path) -> list[Pair]:
    """Every pair in the file; the first bad line is one ClonekitError naming the file and line."""
    path = Path(path)
    pairs = []
    for lineno, obj in iter_jsonl(path, PAIRS_HINT):
        problem = pair_problem(obj)
        if problem:
            if "context" not in obj and "messages" in obj:
                problem = (
                    "this is a chat example (train.jsonl), not a preference pair: `--method dpo` needs pairs "
                    "from `clonekit prep pairs`"
                )
            raise ClonekitError(f"not a preference pair: {problem}; expected {PAIRS_HINT}", path, lineno)
        pairs.append(Pair(obj["context"], obj["chosen"], obj["rejected"], str(obj.get("source", ""))))
    if not pairs:
        raise ClonekitError(f"no preference pairs in the file; expected {PAIRS_HINT}", path)
    return pairs
