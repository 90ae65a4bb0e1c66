"""Learning material for a candidate version (`clonekit evolve`): a dataset directory like `prep build` writes.

- **New chats**: the consented conversations the bot logged since the live version's cut-off (its store export),
  built with the same prep rules as the first dataset (`build_datasets`: sessions, merging, redaction, the
  excluded people dropped). The clone's own replies are logged as bot messages, which prep skips: they are never
  targets, and never context under the person's name.
- **Corrections**: what a participant says the person would really have written instead of a clone reply. Each
  becomes an example (the chat before the reply as context, the clone's earlier replies as weight-0 turns, the
  correction as the target turn) and a preference pair (correction over the rejected reply).
- **Replay**: a seeded sample of the original training examples, `replay_ratio` times as many as the new ones,
  against forgetting.
`valid.jsonl` is the original validation split, unchanged: the frozen set the gate measures on.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import orjson

from clonekit import __version__
from clonekit.config import PrepConfig
from clonekit.contracts import MaterialManifest
from clonekit.data_prep.build import build_datasets, system_prompt
from clonekit.dataset import MANIFEST_FILE, TRAIN_FILE, VALID_FILE
from clonekit.errors import ClonekitError
from clonekit.hashing import sha256_file
from clonekit.pairs import PAIRS_FILE, Pair, pair_problem
from clonekit.redact import Redactor


def _person_wrote(messages_path: Path, target: str) -> bool:
    """Whether the person (not the clone, whose replies are bot messages under the same name) wrote any message."""
    want = target.casefold()
    with open(messages_path, "rb") as f:
        for line in f:
            m = orjson.loads(line)
            if not m.get("is_bot") and want in (
                str(m.get("author", "")).casefold(),
                str(m.get("author_id", "")).casefold(),
            ):
                return True
    return False


def correction_example(
    fb: dict, target: str, system_prompt: str, redactor: Redactor, excluded: set[str]
) -> tuple[dict, Pair | None]:
    """(training example, preference pair or None) from one correction with its context."""
    context: list[dict] = [{"role": "system", "content": system_prompt}]
    for author, text, is_clone in fb["context"]:
        if not is_clone and author.casefold() in excluded:
            continue  # an excluded person leaves no trace, not even as context
        if is_clone:
            context.append({"role": "assistant", "name": target, "content": redactor(text), "weight": 0})
        else:
            context.append({"role": "user", "name": author, "content": redactor(text)})
    chosen = redactor(fb["text"])
    example = {"messages": context + [{"role": "assistant", "name": target, "content": chosen, "weight": 1}]}
    pair_context = [{k: v for k, v in m.items() if k != "weight"} for m in context]
    while len(pair_context) > 1 and pair_context[-1]["role"] == "assistant":
        pair_context.pop()  # a pair's context ends where the clone's reply begins
    pair = Pair(pair_context, chosen, redactor(fb["reply"]), f"feedback:{fb['id']}")
    return example, (pair if pair_problem(pair.as_record()) is None else None)


def build_material(
    messages_path: Path | None,
    feedback: list[dict],
    original: Path,
    out: Path,
    cfg: PrepConfig,
    replay_ratio: float = 2.0,
    seed: int = 0,
    log=print,
) -> MaterialManifest:
    """Write out/{train,valid,pairs}.jsonl and manifest.json; returns the manifest."""
    if cfg.target is None:
        raise ClonekitError("new material needs the person to clone (prep's `target`)")
    target = cfg.target
    original = _original(original)
    out = Path(out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    counts = {"chat_examples": 0, "corrections": 0, "pairs": 0, "replay": 0, "reactions": 0}
    examples = _chat_examples(messages_path, cfg, out, log)
    counts["chat_examples"] = len(examples)
    corrections, pairs, counts["reactions"] = _corrections(feedback, cfg)
    examples += corrections
    counts["corrections"] = len(corrections)
    new = len(examples)
    if not new:
        raise ClonekitError(
            "no new material since the live version: no consented chats with the person and no corrections in the store"
        )
    original_train = (original / TRAIN_FILE).read_bytes().splitlines()
    k = min(len(original_train), round(replay_ratio * new))
    replay = random.Random(seed).sample(original_train, k)
    counts["replay"] = k
    rows = examples + replay
    random.Random(seed + 1).shuffle(rows)
    (out / TRAIN_FILE).write_bytes(b"".join(r + b"\n" for r in rows))
    shutil.copyfile(original / VALID_FILE, out / VALID_FILE)
    (out / PAIRS_FILE).write_bytes(b"".join(orjson.dumps(p.as_record()) + b"\n" for p in pairs))
    counts["pairs"] = len(pairs)
    manifest = {
        "clonekit_version": __version__,
        "kind": "evolve material",
        "target": target,
        "system_prompt": system_prompt(cfg, target),
        "counts": counts,
        "new_share": new / len(rows),
        "config": json.loads(cfg.model_dump_json()),
        "original": str(original.resolve()),
        "inputs": {
            "messages_sha256": sha256_file(messages_path) if messages_path else None,
            "original_train_sha256": sha256_file(original / TRAIN_FILE),
        },
        "files": [TRAIN_FILE, VALID_FILE, PAIRS_FILE, MANIFEST_FILE],
    }
    manifest["train_sha256"] = sha256_file(out / TRAIN_FILE)
    checked = MaterialManifest.check(manifest, out / MANIFEST_FILE)
    checked.write(out / MANIFEST_FILE)
    return checked


def _original(original: Path) -> Path:
    original = Path(original)
    for name in (TRAIN_FILE, VALID_FILE):
        if not (original / name).exists():
            raise ClonekitError(
                f"the original dataset has no {name} (replay and the frozen evaluation set come from it)", original
            )
    return original


def _chat_examples(messages_path: Path | None, cfg: PrepConfig, out: Path, log) -> list[bytes]:
    """The new consented chats built as prep builds a dataset (all of it train), one line an example."""
    assert cfg.target is not None
    if messages_path is None or not messages_path.stat().st_size:
        return []
    if not _person_wrote(messages_path, cfg.target):
        log(f"the new chats have no messages of {cfg.target}: only corrections teach the candidate")
        return []
    build_datasets(messages_path, out / "chats", cfg.model_copy(update={"valid_fraction": 0.0}))
    return (out / "chats" / TRAIN_FILE).read_bytes().splitlines()


def _corrections(feedback: list[dict], cfg: PrepConfig) -> tuple[list[bytes], list, int]:
    """(an example per correction, the preference pairs they make, how many reactions were not corrections)."""
    assert cfg.target is not None
    redactor = Redactor(cfg.redact, people=cfg.exclude, keep=[cfg.target])
    excluded = {p.casefold() for p in cfg.exclude}
    prompt = system_prompt(cfg, cfg.target)  # the dataset's own, as build_datasets writes it
    examples, pairs, reactions = [], [], 0
    for fb in feedback:
        if fb["kind"] != "correction":
            reactions += 1
            continue
        example, pair = correction_example(fb, cfg.target, prompt, redactor, excluded)
        examples.append(orjson.dumps(example))
        if pair is not None:
            pairs.append(pair)
    return examples, pairs, reactions
