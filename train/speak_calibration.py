"""After training: the speak score (clonekit/speak.py) on every decision point of the held-out sessions, and the
threshold at which the clone speaks as often as the person did there. It goes to clonekit.json (`speak`), where the
bot's `--speak auto` reads it.

One forward pass per session: after the turn that ends at token p, the next tokens of the rendered session are the
next turn's opener, which shares its first tokens (`<|im_start|>`) with the target's, so the logits at p-1, p, ...
give log P(target's opener) without a pass per point. The last turn of a session has no next turn: the opener's
shared part is appended for it. A point where the next tokens are not the shared part gets a pass of its own."""

from __future__ import annotations

from pathlib import Path

from clonekit.chat import render_turns
from clonekit.dataset import SESSIONS_FILE, read_sessions
from clonekit.speak import PROBE_TURN, calibrate_threshold, decision_points, distinguishing_opener, roc_auc

MAX_TOKENS = 2048  # points further into a session than this are left out (counted)


def _ids(tokenizer, template, messages: list[dict], generation: bool = False) -> list[int]:
    from clonekit.train.template import render

    return tokenizer(render(tokenizer, template, messages, generation), add_special_tokens=False)["input_ids"]


def _opener_logprob(logprobs, ids: list[int], p: int, opener: list[int]) -> float | None:
    """log P(opener[-1] | ids[:p] + opener[:-1]) read from one pass, if ids[p:] starts with opener[:-1]."""
    if ids[p : p + len(opener) - 1] != opener[:-1]:
        return None
    return float(logprobs[p + len(opener) - 2, opener[-1]])


def speak_scores(model, tokenizer, template, data_dir: str | Path, system_prompt: str, target: str) -> dict:
    """Scores, labels and mentions of every held-out decision point."""
    import torch

    sessions = [s for s in read_sessions(data_dir) if s.split == "valid"]
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    head = _ids(tokenizer, template, system + [{"role": "user", "name": "x", "content": "y"}])
    opener = distinguishing_opener(
        _ids(tokenizer, template, system + [{"role": "user", "name": "x", "content": "y"}], True)[len(head) :],
        _ids(tokenizer, template, system + [{"role": "user", "name": "x", "content": "y"}, PROBE_TURN])[len(head) :],
    )
    scores: list[float] = []
    labels: list[bool] = []
    mentioned: list[bool] = []
    skipped = 0
    model.eval()
    device = next(model.parameters()).device
    for s in sessions:
        turns = s.chat_turns()
        points = decision_points(turns, target)
        if not points:
            continue
        full = _ids(tokenizer, template, render_turns(turns, system_prompt)) + opener[:-1]
        ends = {
            p.index: len(_ids(tokenizer, template, render_turns(turns[: p.index + 1], system_prompt))) for p in points
        }
        limit = min(len(full), MAX_TOKENS)
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([full[:limit]], device=device)).logits[0]
        logprobs = torch.log_softmax(logits.float(), dim=-1).cpu()
        for p in points:
            end = ends[p.index]
            if end + len(opener) - 1 > limit:  # the opener's last token is read at end + len - 2
                skipped += 1
                continue
            score = _opener_logprob(logprobs, full, end, opener)
            if score is None:  # a template whose openers share nothing: one pass for this point
                ids = full[:end] + opener
                with torch.no_grad():
                    one = model(input_ids=torch.tensor([ids], device=device)).logits[0]
                score = _opener_logprob(torch.log_softmax(one.float(), -1).cpu(), ids, end, opener)
            scores.append(float(score))  # type: ignore[arg-type]
            labels.append(p.wrote_next)
            mentioned.append(p.mentioned)
    return {"scores": scores, "labels": labels, "mentioned": mentioned, "skipped": skipped}


def calibrate_speak(model, tokenizer, template, data_dir: str | Path, system_prompt: str, target: str) -> dict | None:
    """clonekit.json's `speak`: the threshold, the rate it matches, and the held-out AUC. None without held-out
    sessions."""
    if not (Path(data_dir) / SESSIONS_FILE).exists():
        return None
    found = speak_scores(model, tokenizer, template, data_dir, system_prompt, target)
    if not found["scores"]:
        return None
    rate = sum(found["labels"]) / len(found["labels"])
    threshold = calibrate_threshold(found["scores"], found["mentioned"], rate)
    return {
        "score": "log P(the target's role word | the conversation, the next turn's shared opener)",
        "threshold": threshold,
        "target_rate": round(rate, 4),
        "decision_points": len(found["scores"]),
        "skipped_too_long": found["skipped"],
        "auc": roc_auc(found["scores"], found["labels"]),
        "calibrated_on": "valid sessions",
    }
