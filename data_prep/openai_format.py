"""The OpenAI fine-tuning chat format: names matching ^[a-zA-Z0-9_-]{1,64}$, `weight` only on
assistant messages (0 or 1), no other keys, and a size limit per example."""

from __future__ import annotations

from clonekit.chat import NAME_PATTERN, NameSanitizer


def estimate_tokens(messages: list[dict], chars_per_token: float) -> int:
    return sum(int(len(m["content"]) / chars_per_token) + 4 for m in messages)


def to_openai(example: dict, names: NameSanitizer) -> dict:
    out = []
    for m in example["messages"]:
        if m["role"] == "system":
            out.append({"role": "system", "content": m["content"]})
        elif m["role"] == "assistant":
            out.append({"role": "assistant", "content": m["content"], "weight": m.get("weight", 1)})
        else:
            out.append({"role": "user", "name": names(m["name"]), "content": m["content"]})
    return {"messages": out}


def fit_to_limit(example: dict, max_tokens: int, chars_per_token: float) -> list[dict]:
    """Split an over-long example on turn boundaries; parts that cannot fit are dropped (returned
    list is empty). Every part keeps the system message and needs a weighted assistant turn with
    a turn before it."""
    msgs = example["messages"]
    if estimate_tokens(msgs, chars_per_token) <= max_tokens:
        return [example]
    system, turns = msgs[:1], msgs[1:]
    if len(turns) < 2:
        return []
    half = len(turns) // 2
    parts = []
    for chunk in (turns[:half], turns[half:]):
        chunk = [dict(m) for m in chunk]
        if chunk and chunk[0]["role"] == "assistant":
            chunk[0]["weight"] = 0  # no context before it in this part
        if any(m["role"] == "assistant" and m.get("weight") for m in chunk):
            parts += fit_to_limit({"messages": system + chunk}, max_tokens, chars_per_token)
    return parts


_KEYS = frozenset(("role", "content", "name", "function_call", "weight"))
_ROLES = frozenset(("system", "user", "assistant", "function"))


def validate_openai_example(example: dict) -> list[str]:
    """The checks of OpenAI's published format validator; returns the problems found. (The build runs it on every
    example it writes: the common case, a valid message, costs a few dict lookups.)"""
    problems = []
    msgs = example.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return ["missing messages list"]
    if set(example) != {"messages"}:
        problems.append(f"unexpected top-level keys {sorted(set(example) - {'messages'})}")
    match_name = NAME_PATTERN.match
    for m in msgs:
        role, content = m.get("role"), m.get("content")
        if "role" not in m or "content" not in m:
            problems.append("message missing role or content")
        if not _KEYS.issuperset(m):
            problems.append(f"unrecognized key in {sorted(m)}")
        if role not in _ROLES:
            problems.append(f"unrecognized role {role!r}")
        if not isinstance(content, str):
            problems.append("content is not a string")
        if "name" in m and not match_name(m["name"]):
            problems.append(f"name {m['name']!r} does not match {NAME_PATTERN.pattern}")
        if "weight" in m and (role != "assistant" or m["weight"] not in (0, 1)):
            problems.append("weight must be 0 or 1 and only on assistant messages")
    if not any(m.get("role") == "assistant" for m in msgs):
        problems.append("no assistant message")
    return problems
