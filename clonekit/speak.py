"""When the clone speaks: the model's own score for "the target writes next", and the threshold that makes the clone
speak as often as the person did.

The chat template names every speaker, so after the last message the model predicts whose turn opens next. The
*speak score* is the log-probability of the first token of the target's turn opener that differs from another
speaker's, given the conversation and the opener's shared start: with ChatML, log P(the first token of `assistant` |
... `<|im_end|>\n<|im_start|>`). The shared start (`<|im_start|>`) says nothing about who writes and is never trained
(it was: log P(`<|im_start|>`), left to drift, made the sum anti-correlated with the truth, AUC 0.36).
Training (HF forward passes, train/speak_calibration.py), compare and the bot (a vLLM server's `/tokenize` and prompt
logprobs, `SpeakScorer`) compute the same quantity. The loss masks only the target's turns, so on its own the model
never learns who writes next: training with `speaker_loss: true` (the shipped configs) also puts the loss on each
turn's role word.

A *decision point* is the moment after another speaker's turn: the bot decides there whether to speak; the label is
whether the target really wrote the next turn (at the end of a session nobody did: the target stayed silent).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from clonekit.chat import Turn
from clonekit.errors import ClonekitError

SPEAK_MODES = ("always", "mention", "auto")


@dataclass
class DecisionPoint:
    index: int  # the decision follows turns[index], another speaker's turn
    wrote_next: bool  # the target wrote turns[index + 1]
    mentioned: bool  # turns[index] names the target
    since_target_s: float | None  # seconds since the target's last turn (None: no time or no earlier target turn)


def mentions(text: str, name: str) -> bool:
    """The text names the person: a whole word, any case ("maya?", "@Maya"; not "Mayan"). The first name alone
    counts too ("Deniz" for "Deniz K.")."""
    names = {name.strip(), name.strip().split()[0]} if name.strip() else set()
    return any(re.search(rf"(?<!\w){re.escape(n)}(?!\w)", text, re.I) for n in names if n)


def decision_points(
    turns: Sequence[Turn], target: str, times: Sequence[float | None] | None = None
) -> list[DecisionPoint]:
    """Every point after another speaker's turn, labelled with whether the target wrote next. `times`: each turn's
    start in seconds (for the time baseline)."""
    points: list[DecisionPoint] = []
    last_target_at: float | None = None
    for i, t in enumerate(turns):
        at = times[i] if times is not None else None
        if t.is_target:
            last_target_at = at
            continue
        since = at - last_target_at if at is not None and last_target_at is not None else None
        wrote_next = i + 1 < len(turns) and turns[i + 1].is_target
        points.append(DecisionPoint(i, wrote_next, mentions(t.text, target), since))
    return points


def calibrate_threshold(scores: Sequence[float], mentioned: Sequence[bool], rate: float) -> float:
    """The score threshold at which "speak when mentioned or score >= threshold" speaks at `rate` of the points.
    Mentions are always answered, so they use up part of the rate first. +inf: mentions alone exceed the rate."""
    n = len(scores)
    if n == 0:
        raise ClonekitError("no decision points to calibrate the speak threshold on (no held-out sessions?)")
    wanted = round(rate * n) - sum(bool(m) for m in mentioned)
    free = sorted((s for s, m in zip(scores, mentioned, strict=True) if not m), reverse=True)
    if wanted <= 0 or not free:
        return float("inf")
    if wanted >= len(free):
        return float("-inf")
    return free[wanted - 1]


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve (Mann-Whitney U with ties counted half); None without both classes.
    Written out (12 lines) so that the core needs no scikit-learn; compare's tests check it against sklearn."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return None
    ranked = sorted([(s, 1) for s in pos] + [(s, 0) for s in neg])
    rank_sum, i = 0.0, 0
    while i < len(ranked):  # average ranks over ties
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        rank_sum += sum(y for _, y in ranked[i:j]) * (i + j + 1) / 2
        i = j
    return (rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def distinguishing_opener(generation: Sequence[int], other: Sequence[int]) -> list[int]:
    """The target's opener tokens up to and including the first that differs from another speaker's opener."""
    k = 0
    while k < len(generation) and k < len(other) and generation[k] == other[k]:
        k += 1
    if k >= len(generation):
        raise ClonekitError("the chat template opens the target's turn like everyone else's: no speak score possible")
    return list(generation[: k + 1])


PROBE_TURN = {"role": "user", "name": "someone", "content": "hi"}  # any other speaker's turn, to find the opener


class SpeakScorer:
    """The speak score through a vLLM server: its `/tokenize` renders the conversation with the served chat template,
    and one completion with `echo` returns the prompt logprobs of the target's opener. Servers without these
    (the hosted API, llama.cpp) get a clear error; use `--speak mention` or `always` there."""

    def __init__(self, base_url: str, model: str, api_key: str = "none", timeout: float = 60.0):
        import httpx

        self.root = base_url.rstrip("/").removesuffix("/v1")
        self.model = model
        self.client = httpx.AsyncClient(timeout=timeout, headers={"Authorization": f"Bearer {api_key}"})
        self.opener: list[int] | None = None

    async def _tokenize(self, messages: list[dict], generation: bool) -> list[int]:
        body = {"model": self.model, "messages": messages, "add_generation_prompt": generation}
        r = await self.client.post(f"{self.root}/tokenize", json=body)
        if r.status_code == 404:
            raise ClonekitError(f"{self.root} has no /tokenize (not a vLLM server): --speak auto needs one")
        r.raise_for_status()
        return r.json()["tokens"]

    async def score(self, messages: list[dict]) -> float:
        """log P(the target's role word | messages and the start of a next turn)."""
        ids = await self._tokenize(messages, False)
        if self.opener is None:
            with_generation = await self._tokenize(messages, True)
            with_other = await self._tokenize([*messages, PROBE_TURN], False)
            self.opener = distinguishing_opener(with_generation[len(ids) :], with_other[len(ids) :])
        body = {"model": self.model, "prompt": ids + self.opener, "max_tokens": 1, "echo": True, "logprobs": 0}
        r = await self.client.post(f"{self.root}/v1/completions", json=body)
        r.raise_for_status()
        logprobs = r.json()["choices"][0]["logprobs"]["token_logprobs"]
        return float(logprobs[len(ids) + len(self.opener) - 1])

    async def aclose(self) -> None:
        await self.client.aclose()
