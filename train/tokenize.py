"""Examples -> token ids with labels. Labels are -100 everywhere except the target's (assistant, weight 1)
message content and its end-of-turn token, so the model learns the person and learns to stop."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from clonekit.errors import ClonekitError
from clonekit.jsonl import iter_jsonl
from clonekit.train.template import ChatTemplate, target_spans

IGNORE = -100


@dataclass
class Tokenized:
    input_ids: list[int]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass
class TokenizeStats:
    examples: int = 0
    pieces: int = 0
    tokens: int = 0
    target_tokens: int = 0
    notes: Counter = field(default_factory=Counter)  # split_too_long, truncated, dropped_no_target


def has_target(messages: list[dict]) -> bool:
    return any(m.get("role") == "assistant" and (m.get("weight", 1) or m.get("end_weight", 0)) for m in messages)


def tokenize_example(tokenizer, template: ChatTemplate, messages: list[dict], speaker_loss: bool = False) -> Tokenized:
    text, spans = target_spans(tokenizer, template, messages, speaker_loss)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    labels = []
    k = 0
    for tok, (start, _) in zip(enc["input_ids"], enc["offset_mapping"], strict=True):
        while k < len(spans) and start >= spans[k][1]:
            k += 1
        labels.append(tok if k < len(spans) and spans[k][0] <= start < spans[k][1] else IGNORE)
    return Tokenized(list(enc["input_ids"]), labels)


def tokenize_with_limit(
    tokenizer, template, messages: list[dict], max_len: int, stats: TokenizeStats, speaker_loss: bool = False
) -> list[Tokenized]:
    """Tokenize; an example longer than max_len is split on turn boundaries (each part keeps the system
    message and needs a target turn with context); a single turn still too long is truncated."""
    tok = tokenize_example(tokenizer, template, messages, speaker_loss)
    if len(tok) <= max_len:
        return [tok]
    system = [m for m in messages[:1] if m["role"] == "system"]
    turns = messages[len(system) :]
    if len(turns) < 3:
        stats.notes["truncated"] += 1
        return (
            [Tokenized(tok.input_ids[:max_len], tok.labels[:max_len])]
            if any(x != IGNORE for x in tok.labels[:max_len])
            else []
        )
    stats.notes["split_too_long"] += 1
    half = len(turns) // 2
    out = []
    for part in (turns[:half], turns[half:]):
        part = [dict(m) for m in part]
        if part[0]["role"] == "assistant":
            part[0]["weight"] = part[0]["end_weight"] = 0  # no context before it in this part
        if has_target(part):
            out += tokenize_with_limit(tokenizer, template, system + part, max_len, stats, speaker_loss)
    return out


EXAMPLES_HINT = '{"messages": [{"role": ..., "content": ...}, ...]} (run `clonekit prep build` first)'


def load_examples(path: Path) -> list[list[dict]]:
    """Read train/valid.jsonl; an example with no target turn is an error naming file and line."""
    examples = []
    for lineno, obj in iter_jsonl(path, EXAMPLES_HINT):
        try:
            messages = obj["messages"]
            roles = [m["role"] for m in messages]
            _ = [m["content"] for m in messages]
        except (KeyError, TypeError) as e:
            raise ClonekitError(
                f"not a chat example (missing or bad {e}); expected {EXAMPLES_HINT}", path, lineno
            ) from None
        if not has_target(messages):
            raise ClonekitError(
                "example has no target turn (an assistant message with weight 1): nothing to "
                "learn; rebuild the dataset with `clonekit prep build --target NAME`",
                path,
                lineno,
            )
        if any(r not in ("system", "user", "assistant") for r in roles):
            raise ClonekitError(f"unknown role in {sorted(set(roles))}", path, lineno)
        examples.append(messages)
    return examples


def tokenize_dataset(
    tokenizer, template, examples: list[list[dict]], max_len: int
) -> tuple[list[Tokenized], TokenizeStats]:
    stats = TokenizeStats()
    out = []
    for messages in examples:
        stats.examples += 1
        pieces = tokenize_with_limit(tokenizer, template, messages, max_len, stats)
        if not pieces:
            stats.notes["dropped_no_target"] += 1
        for p in pieces:
            stats.pieces += 1
            stats.tokens += len(p)
            stats.target_tokens += sum(1 for x in p.labels if x != IGNORE)
        out += pieces
    return out, stats
