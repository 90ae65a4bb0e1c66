"""Loop prevention at the root: which next tokens to penalize so that a clone does not copy its own earlier turns.

Clones loop across turns: the reply before is in the prompt, and copying it is the likeliest continuation. vLLM's
frequency/presence penalties count only the current reply's tokens, and `repetition_penalty` punishes every
earlier end-of-turn token too, so neither helps. This module holds the rule, free of
torch and vLLM so that it is tested alone; serve/logits_processor.py applies it inside vLLM for every request.

Per request it keeps the clone's earlier turns from the prompt (the assistant turns of the chat template) and the
reply being generated, and at each step returns (token, penalty) pairs to subtract from the logits:

1. **DRY** (the "Don't Repeat Yourself" sampler of koboldcpp/llama.cpp, written here because vLLM has none): a
   token that would extend a sequence already seen in an earlier clone turn, or earlier in this reply, by a match of
   L >= allowed_length tokens gets `multiplier * base ** (L - allowed_length)`. Each turn starts with a virtual
   start token, so copying the *start* of an earlier reply counts from its first token.
2. **Copy stop**: ending the reply (the end-of-turn token) when the reply so far is near-identical to an earlier
   clone turn (clonekit.repetition.near_identical, the one definition used by the bot and compare) costs
   `copy_penalty` for each such earlier turn: the clone says something else, or more.
3. **Degenerate stop**: inside a reply, a token that would complete a third back-to-back repetition of a unit of up
   to `max_unit` tokens is forbidden ("lol lol lol").
4. **Opening over-use**: within the first `opening_tokens` tokens of a reply, a token that would make the reply open
   like k earlier clone turns costs `opening_penalty * k`. The more often an opening ("wait,", "i'll") is already in
   the context, the likelier a model repeats it (Xu et al., DITTO); DRY ignores matches shorter than allowed_length.
   Off by default: on the demo clone, 0.7 shifted openings around instead of curbing them ("wait" in 21 % of
   self-play replies instead of 17 %) and lowered P(target) from 0.81 to 0.80; a per-request knob to try.

Defaults were chosen by measurement (scripts/choose_sampling.py); every field can be set per request through the
OpenAI API's `extra_body={"vllm_xargs": {"antiloop_<field>": value}}`, and `antiloop_enabled: 0` turns it off.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace

from clonekit.repetition import near_identical, normalize

START = -1  # virtual token that starts every turn
ENV_VAR = "CLONEKIT_ANTILOOP"  # server-wide settings (JSON), set by `clonekit serve`
XARG_PREFIX = "antiloop_"


@dataclass(frozen=True)
class AntiLoopSettings:
    enabled: bool = True
    multiplier: float = 1.0  # DRY: penalty at a match of exactly allowed_length tokens
    base: float = 1.75  # DRY: growth per further matching token
    allowed_length: int = 2  # DRY: matches shorter than this are free (the start token counts)
    max_exponent: int = 20  # DRY: caps base ** (L - allowed_length)
    copy_penalty: float = 6.0  # per earlier near-identical clone turn, on ending the reply as a copy of it
    max_unit: int = 8  # degenerate stop: units of up to this many tokens may not repeat 3x back to back
    opening_penalty: float = 0.0  # per earlier clone turn that opens the same way (off: measured, it did not help)
    opening_tokens: int = 3

    @classmethod
    def from_env(cls) -> AntiLoopSettings:
        raw = os.environ.get(ENV_VAR)
        return cls.from_dict(json.loads(raw)) if raw else cls()

    @classmethod
    def from_dict(cls, values: dict) -> AntiLoopSettings:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown anti-loop settings {sorted(unknown)}; known: {sorted(known)}")
        return cls()._with(values)

    def with_request_args(self, extra_args: dict | None) -> AntiLoopSettings:
        """Per-request overrides from SamplingParams.extra_args (`vllm_xargs`): antiloop_<field>."""
        if not extra_args:
            return self
        values = {k[len(XARG_PREFIX) :]: v for k, v in extra_args.items() if k.startswith(XARG_PREFIX)}
        return self.from_dict({**asdict(self), **values}) if values else self

    def _with(self, values: dict) -> AntiLoopSettings:
        out = {}
        for f in fields(self):
            if f.name in values:
                out[f.name] = _coerce(f.name, values[f.name], type(getattr(self, f.name)))
        s = replace(self, **out)
        if (
            s.multiplier < 0
            or s.base < 1
            or s.allowed_length < 1
            or s.copy_penalty < 0
            or s.max_unit < 0
            or s.opening_penalty < 0
            or s.opening_tokens < 0
        ):
            raise ValueError(
                "anti-loop settings: multiplier, copy_penalty, max_unit, opening_penalty, "
                "opening_tokens >= 0; base >= 1; allowed_length >= 1"
            )
        return s


def _coerce(name: str, value, kind: type):
    if kind is bool:
        if isinstance(value, str):
            if value.lower() in ("1", "true", "on", "yes"):
                return True
            if value.lower() in ("0", "false", "off", "no"):
                return False
            raise ValueError(f"anti-loop setting {name}: expected on/off, got {value!r}")
        return bool(value)
    try:
        return kind(value) if kind is float else int(float(value))
    except (TypeError, ValueError):
        raise ValueError(f"anti-loop setting {name}: not a number: {value!r}") from None


@dataclass(frozen=True)
class TurnMarkers:
    """How a chat template marks turns, in token ids: a turn opens with `start` followed by a role header that ends
    at `header_end` (inclusive), and closes with `end`. `is_clone_header(ids)` says whether a header's tokens
    (after `start`, up to and including header_end) name the assistant, i.e. the clone."""

    start: int
    end: int
    header_end: Callable[[int], bool]
    is_clone_header: Callable[[list[int]], bool]
    stop_ids: frozenset[int]  # tokens that end a reply (end of turn, eos)
    skip: Callable[[int], bool] = lambda t: False  # tokens right after the header that belong to it


def clone_turns(prompt: Sequence[int], m: TurnMarkers) -> list[list[int]]:
    """The content token ids of every complete clone (assistant) turn in a prompt."""
    turns: list[list[int]] = []
    i, n = 0, len(prompt)
    while i < n:
        if prompt[i] != m.start:
            i += 1
            continue
        j = i + 1
        while j < n and not m.header_end(prompt[j]) and prompt[j] != m.end and prompt[j] != m.start:
            j += 1
        if j >= n or prompt[j] in (m.end, m.start):
            i = j
            continue
        header = list(prompt[i + 1 : j + 1])
        k = j + 1
        while k < n and prompt[k] != m.end and prompt[k] != m.start:
            k += 1
        if k < n and prompt[k] == m.end and m.is_clone_header(header):
            first = j + 1
            while first < k and m.skip(prompt[first]):
                first += 1
            turns.append(list(prompt[first:k]))
        i = k
    return turns


class RequestLoopState:
    """One request: its earlier clone turns and the live list of generated tokens."""

    def __init__(
        self,
        settings: AntiLoopSettings,
        earlier: list[list[int]],
        output: list[int],
        end_id: int,
        stop_ids: frozenset[int],
        decode: Callable[[list[int]], str],
    ):
        self.s = settings
        self.output = output  # vLLM's live reference: grows as tokens are generated
        self.stop_ids = stop_ids
        self.decode = decode
        # every earlier turn as START + content + END, so copying a whole reply, ending included, is seen
        self.history: list[list[int]] = [[START, *t, end_id] for t in earlier]
        self.earlier_texts = [normalize(decode(t)) for t in earlier]
        self._index: dict[int, list[tuple[int, int]]] = {}  # token -> (turn, position) where it is followed
        for ti, seq in enumerate(self.history):
            for p in range(len(seq) - 1):
                self._index.setdefault(seq[p], []).append((ti, p))

    def penalties(self) -> dict[int, float]:
        """token id -> amount to subtract from its logit for the next step (inf: forbidden)."""
        s = self.s
        cur = [START, *self.output]
        out: dict[int, float] = {}
        best: dict[int, int] = {}  # candidate -> longest match it would extend
        last = cur[-1]
        for ti, p in self._index.get(last, ()):
            seq = self.history[ti]
            L = _match_back(seq, p, cur)
            cand = seq[p + 1]
            if L > best.get(cand, 0):
                best[cand] = L
        # earlier in this reply (in-reply repetition): positions p < len(cur) - 1 holding `last`
        for p in range(len(cur) - 2, 0, -1):
            if cur[p] != last:
                continue
            L = _match_back(cur, p, cur)
            cand = cur[p + 1]
            period = len(cur) - 1 - p
            if s.max_unit and period <= s.max_unit and L >= 2 * period - 1 and len(cur) - 1 >= 2 * period - 1:
                out[cand] = float("inf")  # would complete a third back-to-back repetition of the unit
            if L > best.get(cand, 0):
                best[cand] = L
        if s.multiplier > 0:
            for cand, L in best.items():
                if L >= s.allowed_length and out.get(cand) != float("inf"):
                    out[cand] = s.multiplier * s.base ** min(L - s.allowed_length, s.max_exponent)
        if s.opening_penalty > 0 and len(self.output) < s.opening_tokens:
            n = len(self.output)
            openings: dict[int, int] = {}
            for seq in self.history:  # START + content + END
                if len(seq) > n + 1 and seq[1 : n + 1] == self.output and seq[n + 1] not in self.stop_ids:
                    openings[seq[n + 1]] = openings.get(seq[n + 1], 0) + 1
            for cand, k in openings.items():
                if out.get(cand) != float("inf"):
                    out[cand] = out.get(cand, 0.0) + s.opening_penalty * k
        if s.copy_penalty > 0 and self.earlier_texts and self.output:
            text = normalize(self.decode(self.output))
            copies = sum(1 for e in self.earlier_texts if near_identical(text, e)) if text else 0
            if copies:
                for stop in self.stop_ids:
                    if out.get(stop) != float("inf"):
                        out[stop] = out.get(stop, 0.0) + self.s.copy_penalty * copies
        return out


def _match_back(seq: Sequence[int], p: int, cur: Sequence[int]) -> int:
    """How many tokens, ending at seq[p] and at cur[-1], agree going backwards."""
    k = 0
    while k <= p and k < len(cur) and seq[p - k] == cur[-1 - k]:
        k += 1
    return k
