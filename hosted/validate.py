"""OpenAI's rules for chat fine-tuning files, checked before anything is sent: each line one JSON object with a
`messages` list; roles system, user, assistant (and tool / function for tool use); `name` only as OpenAI spells names;
`weight` only on assistant messages, 0 or 1; at least one assistant message that is learnt; every example within the
model's per-example token limit (tiktoken, `hosted/tokens.py`); at least 10 training examples.

The rules are OpenAI's published ones ("Preparing your dataset" and the cookbook's format check). The first broken
rule is an error that names the file and the line."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from clonekit.config import HostedConfig, HostedModel
from clonekit.errors import ClonekitError
from clonekit.hosted.tokens import encoding, example_tokens

ROLES = ("system", "user", "assistant", "tool", "function")
MESSAGE_KEYS = {"role", "content", "name", "weight", "function_call", "tool_calls", "tool_call_id"}
EXAMPLE_KEYS = {"messages", "tools", "functions", "parallel_tool_calls"}
NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass
class FileFigures:
    """A checked file: examples, tokens (one epoch), the longest example."""

    path: Path
    examples: int = 0
    tokens: int = 0
    longest: int = 0
    learnt_messages: int = 0
    notes: list[str] = field(default_factory=list)


def model_limits(cfg: HostedConfig, model: str) -> HostedModel:
    base = model.split(":")[1] if model.startswith("ft:") else model  # continuing a fine-tuned model: its base
    if base not in cfg.models:
        known = ", ".join(cfg.models)
        raise ClonekitError(
            f"no token limit and price for model {model!r}: add it under `models:` in the hosted config "
            f"(known: {known})"
        )
    return cfg.models[base]


def check_message(m, where: str) -> bool:
    """One message's keys and values; whether it is an assistant message that is learnt."""
    if not isinstance(m, dict):
        raise ValueError(f"{where} is not an object")
    unknown = set(m) - MESSAGE_KEYS
    if unknown:
        raise ValueError(f"{where} has keys OpenAI does not accept: {', '.join(sorted(unknown))}")
    role = m.get("role")
    if role not in ROLES:
        raise ValueError(f"{where} has role {role!r}; OpenAI accepts {', '.join(ROLES)}")
    content = m.get("content")
    if not isinstance(content, str) and not (role == "assistant" and (m.get("tool_calls") or m.get("function_call"))):
        raise ValueError(f"{where} ({role}) has no text content")
    if "name" in m and (not isinstance(m["name"], str) or not NAME.match(m["name"])):
        raise ValueError(f"{where}: name {m['name']!r} must match {NAME.pattern}")
    if "weight" in m:
        if role != "assistant":
            raise ValueError(f"{where}: `weight` is only allowed on assistant messages, not {role}")
        if m["weight"] not in (0, 1) or isinstance(m["weight"], bool):
            raise ValueError(f"{where}: weight must be 0 or 1, not {m['weight']!r}")
    return role == "assistant" and m.get("weight", 1) == 1


def check_example(obj, limits: HostedModel, enc) -> tuple[int, int]:
    """(tokens, learnt assistant messages) of one line's object, or ValueError naming the broken rule."""
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    unknown = set(obj) - EXAMPLE_KEYS
    if unknown:
        raise ValueError(f"keys OpenAI does not accept: {', '.join(sorted(unknown))}")
    messages = obj.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("no `messages` list")
    learnt = sum(check_message(m, f"message {i + 1}") for i, m in enumerate(messages))
    if not any(m.get("role") == "assistant" for m in messages):
        raise ValueError("no assistant message: an example must end in (or hold) the reply to learn")
    if not learnt:
        raise ValueError("every assistant message has weight 0: the example teaches nothing")
    tokens = example_tokens(messages, enc)
    if tokens > limits.max_example_tokens:
        raise ValueError(f"{tokens:,} tokens: over the model's limit of {limits.max_example_tokens:,} per example")
    return tokens, learnt


def check_file(path: str | Path, limits: HostedModel, min_examples: int = 0) -> FileFigures:
    """Every line of one file; ClonekitError with the file and line at the first broken rule."""
    path = Path(path)
    if not path.is_file():
        raise ClonekitError("not found (build the dataset with `clonekit prep build`)", path)
    enc = encoding(limits.encoding)
    figures = FileFigures(path)
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                raise ClonekitError("an empty line (OpenAI rejects the file)", path, lineno)
            try:
                tokens, learnt = check_example(json.loads(line), limits, enc)
            except json.JSONDecodeError as e:
                raise ClonekitError(f"not JSON: {e.msg}", path, lineno) from None
            except ValueError as e:
                raise ClonekitError(str(e), path, lineno) from None
            figures.examples += 1
            figures.tokens += tokens
            figures.longest = max(figures.longest, tokens)
            figures.learnt_messages += learnt
    if figures.examples < min_examples:
        raise ClonekitError(f"{figures.examples} examples: OpenAI fine-tuning needs at least {min_examples}", path)
    return figures
