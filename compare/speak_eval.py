"""When the clone speaks, measured on the held-out sessions (clonekit/speak.py).

The held-out sessions are replayed through the bot's core (`CloneChat`, `--speak auto`): every turn goes into the
channel's log as it happened (the person's own turns as the clone's), and after each other speaker's turn the bot
decides, with the served model's speak score, the calibrated threshold, mentions and the reply limit, whether to
speak. The clock is the turns' real time. The scores give the speak score's ROC AUC for "the target wrote the next
turn", beside two baselines: the time since the target's last turn, and mention-only. The decisions give the bot's
reply rate (against the person's real rate) and the share of mentions it answered."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

from clonekit.chat import Turn
from clonekit.compare.endpoints import Endpoint
from clonekit.compare.intervals import interval
from clonekit.dataset import read_sessions
from clonekit.speak import decision_points, roc_auc


@dataclass
class HeldSession:
    turns: list[Turn]
    times: list[float | None]


def load_sessions(data_dir, split: str = "valid") -> list[HeldSession]:
    out = []
    for s in read_sessions(data_dir):
        if s.split != split:
            continue
        turns = s.chat_turns()
        times = [dt.datetime.fromisoformat(t.time).timestamp() if t.time else None for t in turns]
        out.append(HeldSession(turns, times))
    return out


async def replay(
    ep: Endpoint, sessions: list[HeldSession], target: str, system_prompt: str, threshold: float, history_turns: int
) -> list[dict]:
    """One record per decision point: the label, the baselines' inputs, the bot's decision and its score."""
    from clonekit.bot.core import CloneChat
    from clonekit.config import BotConfig

    cfg = BotConfig(
        base_url=ep.base_url,
        model=ep.model,
        clone_name=target,
        system_prompt=system_prompt,
        mode="auto",
        speak_threshold=threshold,
        history_turns=history_turns,
        quiet_seconds=0,
        api_key_env=ep.key_env or "CLONEKIT_API_KEY",
    )
    records: list[dict] = []

    async def one(k: int, session: HeldSession) -> None:
        now = [0.0]  # this session's clock: sessions are replayed concurrently, each at its own real times
        chat = CloneChat(cfg, clock=lambda: now[0])
        channel = f"held-{k}"
        points = {p.index: p for p in decision_points(session.turns, target, session.times)}
        for i, t in enumerate(session.turns):
            if t.is_target:
                for m in t.messages:
                    chat.channel(channel).log.add(target, m, is_clone=True)
                continue
            for m in t.messages:
                chat.heard(channel, t.speaker, m)
            p = points[i]
            now[0] = session.times[i] or now[0]
            decision = await chat.decide(channel)
            chat.channel(channel).debounce.answered()
            records.append(
                {
                    "wrote_next": p.wrote_next,
                    "mentioned": p.mentioned,
                    "since_target_s": p.since_target_s,
                    "score": decision.score,
                    "speak": decision.speak,
                    "reason": decision.reason,
                }
            )
        await chat.close()

    gate = asyncio.Semaphore(4)

    async def gated(k: int, s: HeldSession) -> None:
        async with gate:
            await one(k, s)

    await asyncio.gather(*(gated(k, s) for k, s in enumerate(sessions)))
    return records


def _auc_row(units: list[tuple[float, bool]], seed: int) -> dict:
    def auc(us: list) -> float:
        value = roc_auc([u[0] for u in us], [u[1] for u in us])
        return float("nan") if value is None else value

    return {"auc": roc_auc([u[0] for u in units], [u[1] for u in units]), "interval": interval(units, auc, seed, 300)}


def speak_summary(records: list[dict], seed: int = 0) -> dict:
    """The AUC table (speak score, time since the target's last turn, mention-only) and the replay's rates."""
    scored = [r for r in records if r["score"] is not None]
    timed = [r for r in records if r["since_target_s"] is not None]
    # never spoke yet in the session: counts as the longest wait
    longest = max((r["since_target_s"] for r in timed), default=0.0)
    table = {
        "speak score (the model's log P that the next turn is the target's)": _auc_row(
            [(r["score"], r["wrote_next"]) for r in scored], seed
        ),
        "time since the target's last turn": _auc_row(
            [
                (r["since_target_s"] if r["since_target_s"] is not None else longest + 1, r["wrote_next"])
                for r in records
            ],
            seed,
        ),
        "mention only": _auc_row([(float(r["mentioned"]), r["wrote_next"]) for r in records], seed),
    }
    n = len(records)
    real = sum(r["wrote_next"] for r in records)
    spoke = sum(r["speak"] for r in records)
    mentions = [r for r in records if r["mentioned"]]
    answered = sum(r["speak"] for r in mentions)
    first = next(iter(table.values()))
    return {
        "auc": first["auc"],
        "auc_interval": first["interval"],
        "table": table,
        "decision_points": n,
        "real_reply_rate": real / n if n else None,
        "bot_reply_rate": spoke / n if n else None,
        "bot_reply_rate_interval": interval(
            [float(r["speak"]) for r in records], lambda xs: sum(xs) / len(xs), seed, 300
        ),
        "rate_ratio": (spoke / real) if real else None,
        "mentions": len(mentions),
        "mentions_answered": answered / len(mentions) if mentions else None,
        "reasons": {k: sum(r["reason"] == k for r in records) for k in sorted({r["reason"] for r in records})},
    }
