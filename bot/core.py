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
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clonekit.bot.conversation import ChannelLog, bubbles, strip_name_prefix
from clonekit.bot.debounce import Debouncer
from clonekit.bot.loops import LoopGuard
from clonekit.chat import NameSanitizer, is_openai_api
from clonekit.config import BotConfig
from clonekit.errors import ClonekitError
from clonekit.redact import Redactor

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


def resolve_identity(cfg: BotConfig) -> Identity:
    """The clone's name and system prompt: from the config, else from the adapter's clonekit.json."""
    name, system = cfg.clone_name, cfg.system_prompt
    if cfg.adapter:
        path = Path(cfg.adapter) / "clonekit.json"
        if not path.exists():
            raise ClonekitError("not an adapter directory (no clonekit.json)", cfg.adapter)
        dataset = json.loads(path.read_text(encoding="utf-8")).get("dataset", {})
        name = name or dataset.get("target")
        system = system or dataset.get("system_prompt")
    return Identity(name or "clone", system)


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
        mentioned = mentioned or self.identity.clone_name.lower() in text.lower()
        ch.debounce.message(self.clock(), mentioned)

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
            answer = await self._complete(ch.log.messages(self.identity.system_prompt, self.names), attempt, model)
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
