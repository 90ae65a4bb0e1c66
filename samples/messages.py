"""What both sample corpora are made of: a message, the friends' time zone and platform ids, and the tail a
conversation may end with (a photo, a shared link, a deleted message, an edit), written by one helper."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

PEOPLE = {
    "Deniz": {"discord_id": "402117755841560576", "discord_name": "deniz_k", "telegram_id": "user118204931"},
    "Maya": {"discord_id": "402118964418469888", "discord_name": "maya.lol", "telegram_id": "user204113577"},
    "Oliver": {"discord_id": "402119233755668480", "discord_name": "obennett", "telegram_id": "user310558421"},
    "Priya": {"discord_id": "402119900129906688", "discord_name": "priya_s", "telegram_id": "user452290718"},
}
# ids of everyone who speaks in either corpus (Sam only in the group corpus, samples/group.py)
IDS = {**PEOPLE, "Sam": {"discord_id": "402121133388877312", "discord_name": "sam.w", "telegram_id": "user519930264"}}
BOT = {"name": "QuizBot", "discord_id": "402120011122233344"}
TZ = dt.timezone(dt.timedelta(hours=3))  # the friends live in Istanbul


@dataclass
class SampleMessage:
    time: dt.datetime
    author: str
    text: str
    kind: str = "text"  # text | media | deleted | system
    reply_to: int | None = None
    edited: bool = False


def add_tail(
    rnd: random.Random, out: list[SampleMessage], names: list[str], shares: list[tuple[str, str]], odds: tuple
) -> None:
    """Maybe end a conversation with a photo, a shared link (with personal data in it), a deleted message or an
    edit of its last message; `odds` are the cumulative chances of the four."""
    r = rnd.random()
    last = out[-1].time
    media, share, deleted, edited = odds
    if r < media:
        out.append(SampleMessage(last + dt.timedelta(seconds=rnd.randint(5, 60)), rnd.choice(names), "", "media"))
    elif r < share:
        who, text = rnd.choice(shares)
        out.append(SampleMessage(last + dt.timedelta(seconds=rnd.randint(5, 60)), who, text))
    elif r < deleted:
        out.append(SampleMessage(last + dt.timedelta(seconds=rnd.randint(5, 60)), rnd.choice(names), "", "deleted"))
    elif r < edited:
        out[-1].edited = True
