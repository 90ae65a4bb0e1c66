"""What compare asks: every target turn of the held-out sessions, with the conversation before it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from clonekit.chat import Turn, turn
from clonekit.contracts import SessionTurn
from clonekit.dataset import SESSIONS_FILE, read_dataset_manifest, read_sessions
from clonekit.errors import ClonekitError


@dataclass
class Case:
    id: str  # "session:turn"
    context: list[Turn]  # the turns before the reply (at most history_turns)
    reply: str  # what the person really wrote


@dataclass
class HeldOut:
    target: str
    system_prompt: str
    cases: list[Case]
    train_turns: list[tuple[str, str]] = field(default_factory=list)  # (speaker, text) of the train split
    partner_scripts: list[list[tuple[str, str]]] = field(default_factory=list)  # others' turns per session


def _turn_text(t: SessionTurn) -> str:
    return "\n".join(t.messages).strip()


def _is_media(text: str) -> bool:
    return not text or all(line.strip() == "<media>" for line in text.splitlines())


def load_heldout(data_dir: str | Path, limit: int | None = None, history_turns: int = 20) -> HeldOut:
    data = Path(data_dir)
    manifest = read_dataset_manifest(data)  # "not a dataset directory" when it has none
    sessions_path = data / SESSIONS_FILE
    if not sessions_path.exists():
        raise ClonekitError(f"not a dataset directory (no {SESSIONS_FILE}): run `clonekit prep build` first", data)
    cases: list[Case] = []
    train_turns: list[tuple[str, str]] = []
    scripts: list[list[tuple[str, str]]] = []
    train_scripts: list[list[tuple[str, str]]] = []
    for lineno, session in enumerate(read_sessions(data), 1):
        turns = [turn(t.name, _turn_text(t), t.target) for t in session.turns]
        if session.split == "train":
            train_turns += [(t.speaker, t.text) for t in turns if not _is_media(t.text)]
        others = [(t.speaker, t.text) for t in turns if not t.is_target and not _is_media(t.text)]
        if len(others) >= 2:  # self-play partners: held-out sessions first, then training ones
            (scripts if session.split == "valid" else train_scripts).append(others)
        if session.split == "valid":
            for i, t in enumerate(turns):
                if t.is_target and i > 0 and not _is_media(t.text):
                    cases.append(Case(f"{lineno}:{i}", turns[max(0, i - history_turns) : i], t.text))
    if not cases:
        raise ClonekitError(
            "no held-out target turns: the dataset's valid split is empty (build it with a valid_fraction > 0)",
            sessions_path,
        )
    if limit and len(cases) > limit:  # spread over all held-out sessions, not only the first ones
        step = len(cases) / limit
        cases = [cases[int(i * step)] for i in range(limit)]
    return HeldOut(manifest.target, manifest.system_prompt, cases, train_turns, scripts + train_scripts)
