"""The client core shared by the Discord bot and the terminal chat.

Any OpenAI-compatible endpoint: a local `clonekit serve` or a hosted fine-tuned model, chosen by base_url,
model and key alone. Per channel: a named conversation log, a debouncer and a loop guard. No torch here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from clonekit.bot.conversation import ChannelLog, bubbles, strip_name_prefix
from clonekit.bot.debounce import Debouncer
from clonekit.bot.loops import LoopGuard
from clonekit.bot.memory import ContactMemory
from clonekit.chat import NameSanitizer, is_openai_api
from clonekit.config import BotConfig
from clonekit.errors import ClonekitError
from clonekit.manifest import read_manifest
from clonekit.memory import with_memory
from clonekit.redact import Redactor
from clonekit.speak import SpeakScorer, mentions

log = logging.getLogger("clonekit.bot")


@dataclass
class Channel:
    log: ChannelLog
    debounce: Debouncer
    guard: LoopGuard
    task: asyncio.Task | None = None  # the pending answer: waiting for quiet, generating, or sending
    sending: bool = False  # bubbles are going out: a new message no longer cancels this answer
    version: str | None = None  # the registry version (or model) that wrote the last reply


SINCERE_AI_QUESTION = re.compile(
    r"\b(?:are|r)\s+(?:you|u)\s+(?:a\s+|an\s+)?(?:bot|ai|robot|real|human|actually\s+(?:human|real|a\s+person)|"
    r"a\s+(?:real\s+)?person)\b|\btalking\s+to\s+(?:a\s+|an\s+)?(?:bot|ai|machine)\b",
    re.I,
)


def sincerely_asked(text: str) -> bool:
    """A question whether the clone is a person or an AI (the core's first hard rule: the bot answers it)."""
    return "?" in text and bool(SINCERE_AI_QUESTION.search(text))


def version_of(model: str) -> str:
    """The registry version in a served model name (`clone@v3-1a2b3c4d` -> `v3-1a2b3c4d`), else the name itself."""
    return model.partition("@")[2] or model


@dataclass
class Identity:
    clone_name: str
    system_prompt: str | None
    speak_threshold: float | None = None  # `--speak auto`: calibrated in training (clonekit.json `speak`)


def resolve_identity(cfg: BotConfig) -> Identity:
    """The clone's name, system prompt and speak threshold: from the config, else from the adapter's clonekit.json."""
    name, system, threshold = cfg.clone_name, cfg.system_prompt, cfg.speak_threshold
    if cfg.adapter:
        manifest = read_manifest(cfg.adapter)
        name = name or manifest.dataset.target
        system = system or manifest.dataset.system_prompt
        if threshold is None and manifest.speak is not None:
            threshold = manifest.speak.threshold
    if cfg.mode == "auto" and threshold is None:
        raise ClonekitError(
            "--speak auto needs a threshold: --adapter RUN (trained by clonekit, which calibrates it) "
            "or --speak-threshold LOGPROB"
        )
    return Identity(name or "clone", system, threshold)


@dataclass
class Decision:
    speak: bool
    reason: str  # mention | always | score | below_threshold | not_mentioned | rate_limit | probability
    score: float | None = None


@dataclass
class CloneChat:
    cfg: BotConfig
    clock: Callable[[], float] = time.monotonic
    channels: dict[str, Channel] = field(default_factory=dict)
    events: Counter = field(default_factory=Counter)

    def __post_init__(self):
        import openai

        self.identity = resolve_identity(self.cfg)
        hosted = self.cfg.openai_names if self.cfg.openai_names is not None else is_openai_api(self.cfg.base_url)
        self.names = NameSanitizer() if hosted else None  # the hosted API rejects names like "Zeynep Ş."
        # what the adapter may have memorized (a phone number, a card, an excluded person's name) is never sent
        self.redactor = Redactor(self.cfg.redact, people=self.cfg.exclude, keep=[self.identity.clone_name])
        key = os.environ.get(self.cfg.api_key_env) or "none"  # a local server without --api-key takes any key
        # retries are ours (below), so that each one is logged and counted
        self.client = openai.AsyncOpenAI(
            base_url=self.cfg.base_url, api_key=key, max_retries=0, timeout=self.cfg.timeout_seconds
        )
        self.scorer = (
            SpeakScorer(self.cfg.base_url, self.cfg.model, key, self.cfg.timeout_seconds)
            if self.cfg.mode == "auto"
            else None
        )
        self.memory = ContactMemory(self.cfg) if self.cfg.memory else None
        self.replied_at: dict[str, deque[float]] = {}

    def channel(self, name: str) -> Channel:
        ch = self.channels.get(name)
        if ch is None:
            ch = self.channels[name] = Channel(
                ChannelLog(self.cfg.history_turns),
                Debouncer(self.cfg.quiet_seconds, self.cfg.mode, self.cfg.probability),
                LoopGuard(),
            )
        return ch

    def heard(self, channel: str, speaker: str, text: str, mentioned: bool = False) -> None:
        """A human message: into the log, and the quiet window starts again. It mentions the clone when the
        front end says so (a Discord @mention) or when it names the clone."""
        ch = self.channel(channel)
        ch.log.add(speaker, text)
        ch.debounce.message(self.clock(), mentioned or mentions(text, self.identity.clone_name))

    def system_prompt(self, channel: str) -> str | None:
        """The system prompt, with what the clone recalls of the people in the channel (`memory`)."""
        if self.memory is None:
            return self.identity.system_prompt
        return with_memory(self.identity.system_prompt, self.memory.block(self.channel(channel).log.turns))

    async def decide(self, channel: str) -> Decision:
        """Speak now? A mention always gets an answer and nothing exceeds max_replies per window; otherwise the
        mode decides (auto: the speak score against the threshold). Logged with its score."""
        ch = self.channel(channel)
        now = self.clock()
        recent = self.replied_at.setdefault(channel, deque())
        while recent and now - recent[0] > self.cfg.reply_window_seconds:
            recent.popleft()
        mode = self.cfg.mode
        score = None
        if mode == "auto":  # scored even when a mention or the limit decides, for the log (and compare's AUC)
            assert self.scorer is not None
            try:
                score = await self.scorer.score(ch.log.messages(self.identity.system_prompt, self.names))
            except Exception as e:  # noqa: BLE001 - an unreachable scorer means silence, logged, not a crash
                log.error("channel %s: no speak score (%s)", channel, e)
                self.events["speak_score_failed"] += 1
        if len(recent) >= self.cfg.max_replies:
            decision = Decision(False, "rate_limit", score)
        elif ch.debounce.mentioned:
            decision = Decision(True, "mention", score)
        elif mode == "auto":
            threshold = self.identity.speak_threshold
            assert threshold is not None
            if score is None:
                decision = Decision(False, "score_failed")
            else:
                decision = Decision(score >= threshold, "score" if score >= threshold else "below_threshold", score)
        elif mode == "mention":
            decision = Decision(False, "not_mentioned")
        else:
            decision = Decision(True, mode)
        if decision.speak:  # the limit counts decisions to speak (a reply the guard then suppresses included)
            recent.append(now)
        self.events[f"decision_{decision.reason}"] += 1
        self._log_event(
            {
                "event": "decision",
                "channel": channel,
                "mode": mode,
                "speak": decision.speak,
                "reason": decision.reason,
                "score": score,
                "threshold": self.identity.speak_threshold,
                "mentioned": ch.debounce.mentioned,
            }
        )
        log.info(
            "channel %s: %s (%s, score %s)", channel, "speak" if decision.speak else "quiet", decision.reason, score
        )
        return decision

    async def close(self) -> None:
        await self.client.close()
        if self.scorer is not None:
            await self.scorer.aclose()

    def _log_event(self, event: dict) -> None:
        if self.cfg.event_log:
            with open(self.cfg.event_log, "a", encoding="utf-8") as f:
                f.write(json.dumps({"time": time.time(), **event}, ensure_ascii=False) + "\n")

    def reset(self, channel: str) -> None:
        ch = self.channel(channel)
        ch.log.clear()
        ch.guard.reset()
        ch.debounce.answered()

    def pick_model(self) -> str:
        """The model this reply asks for: the A/B candidate for `ab_share` of the replies, else the live clone."""
        if self.cfg.ab_model and self.cfg.ab_share > 0 and random.random() < self.cfg.ab_share:
            self.events["ab_candidate"] += 1
            return self.cfg.ab_model
        return self.cfg.model

    async def reply(self, channel: str) -> list[str]:
        """Generate the clone's answer for a channel (bubbles to send; [] when nothing should be sent).
        The answer goes into the log; a reply that loops is retried with higher penalties and a shorter log."""
        ch = self.channel(channel)
        generation = ch.debounce.generation
        last = ch.log.turns[-1] if ch.log.turns else None
        if self.cfg.disclose and last is not None and not last.is_target and sincerely_asked(last.text):
            # the read-only core's rule, whatever the adapter learned: asked sincerely, the clone says what it is
            name = self.identity.clone_name
            text = self.cfg.disclosure or f"I'm an AI clone of {name} (clonekit), not {name} in person."
            ch.debounce.answered()
            ch.log.add(name, text, is_clone=True)
            ch.version = "core:disclosure"
            self.events["disclosed"] += 1
            return [text]
        text = ""
        problem: str | None = "empty"
        model = self.pick_model()
        for attempt in range(self.cfg.loop_retries + 1):
            if attempt:  # the clone's own stuck replies in the log feed the loop: keep less of it each try
                ch.log.trim(2 if attempt == self.cfg.loop_retries else max(2, len(ch.log.turns) // 2))
            self.events["attempts"] += 1
            answer = await self._complete(ch.log.messages(self.system_prompt(channel), self.names), attempt, model)
            raw = answer[0] if answer else None
            if raw is None:
                ch.debounce.answered()
                return []  # transport failure after retries: logged; the chat sees nothing broken
            text = self._redact(_dedupe_lines(strip_name_prefix(raw, [self.identity.clone_name])))
            problem = ch.guard.problem(text)
            if problem is None:
                break
            self.events[f"loop_{problem}"] += 1
            log.info("channel %s: reply rejected (%s), attempt %d: %r", channel, problem, attempt + 1, text[:80])
        if ch.debounce.generation != generation:
            self.events["stale_reply_dropped"] += 1  # someone wrote meanwhile: answer that instead
            return []
        ch.debounce.answered()
        if problem in ("empty", "degenerate") or ch.guard.would_loop(text):
            self.events["reply_suppressed"] += 1
            log.warning("channel %s: no reply sent after %d attempts (%s)", channel, self.cfg.loop_retries + 1, problem)
            return []
        ch.guard.sent(text)
        ch.version = version_of(answer[1] if answer and answer[1] else model)
        ch.log.add(self.identity.clone_name, text, is_clone=True)
        self.events["replies"] += 1
        self._log_event({"event": "reply", "channel": channel, "version": ch.version, "chars": len(text)})
        return bubbles(text)

    def _redact(self, text: str) -> str:
        before = sum(self.redactor.counts.values())
        text = self.redactor(text)
        self.events["redacted"] += sum(self.redactor.counts.values()) - before
        return text

    async def _complete(self, messages: list[dict], attempt: int, model: str) -> tuple[str, str] | None:
        """(reply text, the model that answered: a registry server names the version), or None on failure."""
        import openai

        extra: dict[str, Any] = {}
        if attempt:  # escalate against loops with penalties only; the first attempt uses the served defaults.
            # Not temperature: a hotter retry of a 135M clone drifts into gibberish (seen in the goad check).
            extra = {"frequency_penalty": min(2.0, 0.6 + 0.6 * attempt), "presence_penalty": min(2.0, 0.5 * attempt)}
        for retry in range(self.cfg.max_retries + 1):
            try:
                r = await self.client.chat.completions.create(
                    model=model,
                    messages=messages,  # type: ignore[arg-type]  # plain dicts, as the API takes them
                    max_tokens=self.cfg.max_tokens,
                    **extra,
                )
                return r.choices[0].message.content or "", r.model
            except (
                openai.APITimeoutError,
                openai.APIConnectionError,
                openai.RateLimitError,
                openai.InternalServerError,
            ) as e:
                self.events[f"transport_{type(e).__name__}"] += 1
                if retry == self.cfg.max_retries:
                    log.error(
                        "endpoint %s failed %d times, giving up on this reply: %s", self.cfg.base_url, retry + 1, e
                    )
                    self.events["transport_gave_up"] += 1
                    return None
                delay = min(30.0, 0.5 * 2**retry) * (0.5 + random.random())
                log.warning(
                    "endpoint %s: %s; retry %d in %.1f s", self.cfg.base_url, type(e).__name__, retry + 1, delay
                )
                await asyncio.sleep(delay)
            except openai.APIStatusError as e:  # 4xx other than 429: a configuration problem, not transient
                self.events["endpoint_error"] += 1
                log.error("endpoint %s refused the request (%s): %s", self.cfg.base_url, e.status_code, e.message)
                return None
        return None

    def typing_delay(self, bubble: str) -> float:
        return min(self.cfg.max_typing_seconds, len(bubble) * self.cfg.typing_seconds_per_char)

    def schedule(self, channel: str, send: Send, typing: Typing | None = None) -> asyncio.Task:
        """After a human message: (re)start the channel's pending answer. A message that arrives while the
        answer waits or is generated cancels it and starts the wait again; one being sent is left to finish."""
        ch = self.channel(channel)
        if ch.task and not ch.task.done() and not ch.sending:
            ch.task.cancel()
            self.events["answer_restarted"] += 1
        ch.task = asyncio.create_task(self._answer_when_due(channel, send, typing or _no_typing))
        return ch.task

    async def _answer_when_due(self, channel: str, send: Send, typing: Typing) -> None:
        ch = self.channel(channel)
        while (wait := ch.debounce.wait_seconds(self.clock())) is not None and wait > 0:
            await asyncio.sleep(wait)
        if not ch.debounce.due(self.clock()):
            return  # nothing calls for an answer (mode mention/probability)
        if not (await self.decide(channel)).speak:
            ch.debounce.answered()  # decided: quiet until the next message
            return
        async with typing():
            parts = await self.reply(channel)
        ch.sending = True
        try:
            for bubble in parts:
                async with typing():
                    await asyncio.sleep(self.typing_delay(bubble))
                await send(bubble)
        finally:
            ch.sending = False


Send = Callable[[str], Awaitable[None]]
Typing = Callable[[], AbstractAsyncContextManager]


@asynccontextmanager
async def _no_typing():
    yield


def _dedupe_lines(text: str) -> str:
    """Drop a line that repeats the line before it ("ok\\nok" is one message, not two)."""
    out: list[str] = []
    for line in text.split("\n"):
        if not out or line.strip().lower() != out[-1].strip().lower():
            out.append(line)
    return "\n".join(out).strip()
