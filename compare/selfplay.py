"""Self-play: N chats of T clone turns each, the partners' lines replayed from real sessions (held-out ones first).

Two ways, one definition of a loop (clonekit.repetition.is_loop: 3+ consecutive near-identical replies):
- raw: a plain OpenAI client, no clonekit code between the model and the chat: how often the served model (with
  whatever the server does, e.g. `clonekit serve`'s anti-loop processor) falls into a loop;
- guarded: through the bot's core (bot.core.CloneChat) with its loop guard on, exactly as the Discord bot and the
  terminal chat run; also counts how often the guard rejected a reply.
"""

from __future__ import annotations

import asyncio

from clonekit.chat import Turn, render_turns, turn
from clonekit.compare.endpoints import Endpoint, client_for, complete
from clonekit.repetition import cross_turn_repeats, is_degenerate, is_loop

Script = list[tuple[str, str]]


def chat_stats(replies: list[str]) -> dict:
    """Per chat: does it loop, how many replies repeat an earlier one, how many are degenerate."""
    said = [r for r in replies if r.strip()]
    return {
        "loop": is_loop(said),
        "replies": len(said),
        "cross_turn_repeats": cross_turn_repeats(said),
        "degenerate": sum(is_degenerate(r) for r in said),
    }


def summarize(transcripts: list[list[str]]) -> dict:
    stats = [chat_stats(t) for t in transcripts]
    replies = sum(s["replies"] for s in stats)
    return {
        "chats": len(stats),
        "loop_rate": sum(s["loop"] for s in stats) / max(1, len(stats)),
        "cross_turn_repeat_rate": sum(s["cross_turn_repeats"] for s in stats) / max(1, replies),
        "degenerate_reply_rate": sum(s["degenerate"] for s in stats) / max(1, replies),
        "empty_replies": sum(len(t) for t in transcripts) - replies,
        "per_chat": stats,
    }


async def self_play(
    ep: Endpoint,
    scripts: list[Script],
    system_prompt: str,
    chats: int,
    turns: int,
    max_tokens: int,
    history_turns: int = 20,
    temperature: float | None = None,
    concurrency: int = 4,
    progress=None,
    names=None,
) -> dict:
    """Raw self-play through a plain OpenAI client."""
    if not scripts:
        return {"loop_rate": None, "chats": 0, "note": "no partner scripts (sessions with 2+ turns of others)"}
    client = client_for(ep)
    gate = asyncio.Semaphore(concurrency)

    async def one_chat(script: Script) -> list[str]:
        log: list[Turn] = []
        replies: list[str] = []
        for t in range(turns):
            speaker, text = script[t % len(script)]
            log.append(turn(speaker, text))
            async with gate:
                gen = await complete(
                    client, ep, render_turns(log[-history_turns:], system_prompt, names), max_tokens, temperature
                )
            replies.append(gen.text)
            if gen.text:
                log.append(turn("clone", gen.text, is_target=True))
            if progress:
                progress()
        return replies

    try:
        transcripts = await asyncio.gather(*(one_chat(scripts[i % len(scripts)]) for i in range(chats)))
    finally:
        await client.close()
    return {**summarize(transcripts), "turns": turns, "transcripts": [list(t) for t in transcripts]}


async def guarded_self_play(
    ep: Endpoint,
    scripts: list[Script],
    system_prompt: str,
    clone_name: str,
    chats: int,
    turns: int,
    max_tokens: int,
    history_turns: int = 20,
    concurrency: int = 4,
    progress=None,
    openai_names: bool | None = None,
) -> dict:
    """Self-play through the bot's core with its loop guard: what a chat with the bot would see. A reply the
    guard suppressed (nothing sent) is not a reply."""
    from clonekit.bot.core import CloneChat
    from clonekit.config import BotConfig

    if not scripts:
        return {"loop_rate": None, "chats": 0, "note": "no partner scripts (sessions with 2+ turns of others)"}
    cfg = BotConfig(
        base_url=ep.base_url,
        model=ep.model,
        api_key_env=ep.key_env or "CLONEKIT_API_KEY",
        clone_name=clone_name,
        system_prompt=system_prompt,
        history_turns=history_turns,
        quiet_seconds=0,
        max_tokens=max_tokens,
        openai_names=openai_names,
    )
    core = CloneChat(cfg)
    gate = asyncio.Semaphore(concurrency)

    async def one_chat(i: int, script: Script) -> list[str]:
        channel = f"selfplay-{i}"
        replies: list[str] = []
        for t in range(turns):
            speaker, text = script[t % len(script)]
            core.heard(channel, speaker, text)
            async with gate:
                bubbles = await core.reply(channel)
            replies.append("\n".join(bubbles))
            if progress:
                progress()
        return replies

    try:
        transcripts = await asyncio.gather(*(one_chat(i, scripts[i % len(scripts)]) for i in range(chats)))
    finally:
        await core.client.close()
    return {**summarize(transcripts), "turns": turns, **_guard_figures(core.events, transcripts)}


def _guard_figures(events, transcripts) -> dict:
    """How often the bot's loop guard rejected a reply, of all attempts, and the transcripts."""
    rejected = sum(v for k, v in events.items() if k.startswith("loop_"))
    attempts = events["attempts"]
    return {
        "transcripts": [list(t) for t in transcripts],
        "guard_rejections": rejected,
        "attempts": attempts,
        "guard_rejection_rate": rejected / attempts if attempts else None,
        "suppressed": events["reply_suppressed"],
    }
