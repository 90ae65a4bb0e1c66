"""`loop_rate` from self-play: N chats of T clone turns each, the partners' lines replayed from real sessions
(held-out ones first). The clone's raw replies are measured, without the bot's loop breaker: this is how often
the model itself falls into a loop. A chat loops when three or more consecutive clone replies are near-identical."""

from __future__ import annotations

import asyncio

from clonekit.chat import render_turns
from clonekit.repetition import is_degenerate
from compare.endpoints import Endpoint, client_for, complete
from compare.repetition import has_loop


async def self_play(ep: Endpoint, scripts: list[list[tuple[str, str]]], system_prompt: str, chats: int, turns: int,
                    max_tokens: int, history_turns: int = 20, temperature: float | None = None,
                    concurrency: int = 4, progress=None, names=None) -> dict:
    if not scripts:
        return {"loop_rate": None, "chats": 0, "note": "no partner scripts (sessions with 2+ turns of others)"}
    client = client_for(ep)
    gate = asyncio.Semaphore(concurrency)

    async def one_chat(script: list[tuple[str, str]]) -> list[str]:
        log: list[tuple[str, str, bool]] = []
        replies: list[str] = []
        for t in range(turns):
            speaker, text = script[t % len(script)]
            log.append((speaker, text, False))
            async with gate:
                gen = await complete(client, ep, render_turns(log[-history_turns:], system_prompt, names), max_tokens,
                                     temperature)
            replies.append(gen.text)
            if gen.text:
                log.append(("clone", gen.text, True))
            if progress:
                progress()
        return replies

    try:
        transcripts = await asyncio.gather(*(one_chat(scripts[i % len(scripts)]) for i in range(chats)))
    finally:
        await client.close()
    flat = [r for chat in transcripts for r in chat]
    return {
        "loop_rate": sum(has_loop(chat) for chat in transcripts) / chats,
        "chats": chats,
        "turns": turns,
        "degenerate_reply_rate": sum(is_degenerate(r) for r in flat if r) / max(1, sum(1 for r in flat if r)),
        "transcripts": [list(chat) for chat in transcripts],
    }
