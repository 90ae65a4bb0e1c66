"""The chat template: one Jinja file, used for training and copied into the adapter for serving.

Each template declares its end-of-turn token in a comment (`clonekit: end_of_turn=<|im_end|>`). The
template must be concatenative (rendering messages[:k] is a prefix of rendering messages), which is
what lets us find each target turn's characters in the rendered text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from clonekit.errors import ClonekitError

BUNDLED = "clonekit.templates"  # package data: the templates ship in the wheel
_EOT = re.compile(r"clonekit:\s*end_of_turn=(\S+)")


@dataclass
class ChatTemplate:
    path: str  # where it was read from, for messages: a file path or "clonekit.templates/<name>"
    text: str
    end_of_turn: str


def bundled_templates() -> list[str]:
    """The names of the templates shipped with clonekit."""
    return sorted(f.name for f in resources.files(BUNDLED).iterdir() if f.name.endswith(".jinja"))


def _read_template(name: str) -> tuple[str, str]:
    """(where, text) of a template given as a file path or as the name of a bundled one."""
    path = Path(name)
    if path.is_file():
        return str(path), path.read_text(encoding="utf-8")
    bundled = resources.files(BUNDLED) / name
    if bundled.is_file():
        return f"{BUNDLED}/{name}", bundled.read_text(encoding="utf-8")
    raise ClonekitError(
        f"chat template {name!r} not found: neither a file nor one of clonekit's templates "
        f"({', '.join(bundled_templates())})"
    )


def load_template(name: str, tokenizer) -> ChatTemplate:
    """`name`: a file path, the name of a bundled template (clonekit/templates/), or "auto" (picked from the
    tokenizer)."""
    if name == "auto":
        vocab = tokenizer.get_vocab()
        if "<|im_start|>" in vocab:
            name = "chatml-names.jinja"
        elif "<|start_header_id|>" in vocab:
            name = "llama3-names.jinja"
        else:
            raise ClonekitError(
                "no clonekit chat template fits this model's tokenizer (it has neither <|im_start|> "
                "nor <|start_header_id|>); write one and set `template:` to its path"
            )
    path, text = _read_template(name)
    m = _EOT.search(text)
    if not m:
        raise ClonekitError("the template does not declare its end-of-turn token (`clonekit: end_of_turn=...`)", path)
    template = ChatTemplate(path, text, m.group(1))
    check_template_fits(template, tokenizer)
    return template


def check_template_fits(template: ChatTemplate, tokenizer) -> None:
    """Every special marker the template writes must be one token of this tokenizer."""
    markers = set(re.findall(r"<\|[a-z_]+\|>", template.text))
    vocab = tokenizer.get_vocab()
    missing = sorted(m for m in markers if m not in vocab)
    if missing:
        raise ClonekitError(
            f"template/model mismatch: the model's tokenizer has no {', '.join(missing)}; "
            "choose a template for this model (or `template: auto`)",
            template.path,
        )


CONTROL_OPEN = "<|"


def neutralize(text: str) -> str:
    """What the templates write for a message's text: "<|" becomes "<" + zero-width space + "|", so text that looks
    like a control token ("<|im_end|>", "<|im_start|>system" typed in a chat) never tokenizes as one. The rule
    lives in the Jinja files (clonekit/templates), which the server uses too; this mirrors it for the loss mask."""
    return text.replace(CONTROL_OPEN, "<\u200b|")


def render(tokenizer, template: ChatTemplate, messages: list[dict], add_generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(
        messages, chat_template=template.text, tokenize=False, add_generation_prompt=add_generation_prompt
    )


def target_spans(
    tokenizer, template: ChatTemplate, messages: list[dict], speaker_loss: bool = False
) -> tuple[str, list[tuple[int, int]]]:
    """Render `messages`; return the text and the character spans the loss falls on: the content of each
    assistant message with weight 1, plus its end-of-turn marker; only the marker for one with weight 0 and
    end_weight 1 (a near-duplicate turn, see data_prep/build.py TurnDeduper). With `speaker_loss`, also the role
    word that opens every turn after the first (`assistant` or `user`): the model learns who writes next, which
    the speak score (clonekit/speak.py) reads; nobody else's words are learnt."""
    spans = []
    turns_seen = 0
    prefix = ""
    for i, msg in enumerate(messages):
        upto = render(tokenizer, template, messages[: i + 1])
        if not upto.startswith(prefix):
            raise ClonekitError(
                "the chat template is not concatenative (rendering more messages changed the "
                "earlier text); clonekit cannot place the loss mask",
                template.path,
            )
        if speaker_loss and msg["role"] in ("user", "assistant"):
            turns_seen += 1
            piece = upto[len(prefix) :]
            role_at = piece.find(msg["role"])
            content_at = piece.rfind(neutralize(msg["content"]))
            if turns_seen > 1 and 0 <= role_at < content_at:
                spans.append((len(prefix) + role_at, len(prefix) + role_at + len(msg["role"])))
        end_only = not msg.get("weight", 1) and msg.get("end_weight", 0)
        if msg["role"] == "assistant" and (msg.get("weight", 1) or end_only):
            piece = upto[len(prefix) :]
            content = neutralize(msg["content"])
            start = piece.rfind(content)
            eot = piece.find(template.end_of_turn, start + len(content)) if start >= 0 else -1
            if start < 0 or eot < 0:
                raise ClonekitError(
                    "the chat template does not write an assistant message's content followed by "
                    f"{template.end_of_turn}",
                    template.path,
                )
            first = len(prefix) + (eot if end_only else start)
            spans.append((first, len(prefix) + eot + len(template.end_of_turn)))
        prefix = upto
    return prefix, spans
