"""A seeded generator of a realistic group chat: months of conversation among five friends, sized and shaped so
that evaluation means something.

What makes it realistic enough to measure a clone on (issue 10):
- ~6,400 messages over 24 weeks by five people with distinct styles: Maya (the default target) writes short
  lowercase messages with "u", "rn", "ngl" and "lol" in about 7 % of them; Oliver long, punctuated British
  sentences; Priya short bursts with emoji; Sam dry, terse remarks ("mate", "tbf"); Deniz mixes Turkish and English.
- Messages are composed from per-move templates (propose, accept, decline, ask, answer, opinion, logistics, ...)
  filled with the topic's things, places, times and details, so a conversation stays on its topic for several
  turns and replies pick up what was said.
- People rarely repeat themselves: a message that would repeat the author's earlier message word for word is drawn
  again (short reactions such as "lol", "ok" or an emoji aside), so each person's exact-repeat share stays well
  under 5 %, as in real chats.
- Late answers (a new session hours later), bursts (two messages in a row), media, links and personal data to
  redact, deleted and edited messages, as in the small corpus (samples/small.py).
"""

from __future__ import annotations

import datetime as dt
import random

from clonekit.samples.facts import Fact, plant_facts
from clonekit.samples.group_data import (
    ADJ,
    DENIZ,
    EN,
    EXCUSE,
    EXCUSE_TR,
    EXTRA,
    NAMES,
    REACTION_RATE,
    SHARES,
    SHORT_REACTIONS,
    TADJ,
    TARGET,
    TIMES,
    TOPICS,
    WEIGHTS,
)
from clonekit.samples.messages import TZ, SampleMessage, add_tail


def _fill(rnd: random.Random, template: str, slots: dict) -> str:
    values = {
        **slots,
        "adj": rnd.choice(ADJ),
        "adj2": rnd.choice(ADJ),
        "excuse": rnd.choice(EXCUSE),
        "extra": rnd.choice(EXTRA),
        "n": rnd.randint(3, 7),
        "tadj": rnd.choice(TADJ),
        "time": rnd.choice([slots["time"]] * 3 + TIMES),
        "detail": rnd.choice(slots["details"]),
    }
    return template.format(**values)


def _maya(rnd: random.Random, text: str) -> str:
    text = text.lower().rstrip(".?!") if rnd.random() < 0.85 else text.lower()
    for a, b in (
        (" you ", " u "),
        ("your ", "ur "),
        ("i'm", "im"),
        ("don't", "dont"),
        ("can't", "cant"),
        ("please", "pls"),
        ("right now", "rn"),
        ("tonight", "tn"),
    ):
        text = text.replace(a, b)
    if rnd.random() < 0.12:
        text = text.replace(" so ", " sooo ").replace(" really ", " rly ")
    r = rnd.random()
    if r < 0.10:
        text = rnd.choice(["omg ", "wait ", "ngl ", "tbh ", "ok but ", "honestly "]) + text
    if rnd.random() < 0.045:  # with her "lol" reactions, about 7-8 % of her messages
        text += " lol"
    elif rnd.random() < 0.03:
        text += " xd"
    return text


def _deniz(rnd: random.Random, text: str, slots: dict) -> str:
    if rnd.random() < 0.35 and not text.startswith(("abi", "ya ")):
        text = rnd.choice(["abi ", "ya ", "valla ", "harbiden ", "bence ", "yani "]) + text
    if rnd.random() < 0.35:
        text += rnd.choice([" abi", " ya", " bence", " haha", f", {slots['thing']} için", " :)", " cidden"])
    return text


def _oliver(rnd: random.Random, text: str) -> str:
    text = text.replace("i'm", "I'm").replace("i'll", "I'll").replace(" i ", " I ").replace("gonna", "going to")
    if text.startswith("i "):
        text = "I " + text[2:]
    r = rnd.random()
    if r < 0.25:
        text = rnd.choice(["To be honest, ", "I must say, ", "Frankly, ", "I think ", "Well, "]) + text
    elif r < 0.35:
        text = rnd.choice(["Right, ", "Lovely, ", "Splendid, "]) + text
    text = text[0].upper() + text[1:]
    if not text.endswith(("?", "!", ".")):
        text += "."
    if rnd.random() < 0.35 and text.endswith("."):
        text = text[:-1] + rnd.choice(
            [
                ", if that suits everyone.",
                ", although I may be a little late.",
                ", provided the weather holds.",
                ", as long as we are not out too late.",
                ". Do let me know.",
                ", I suppose.",
            ]
        )
    return text


def _priya(rnd: random.Random, text: str, emoji: list[str]) -> str:
    words = text.rstrip(".?").split()
    text = " ".join(words[: rnd.randint(3, 7)]) if len(words) > 7 else " ".join(words)
    if rnd.random() < 0.3:
        text += "!!"
    return text + " " + "".join(rnd.choice(emoji + ["😍", "🙌", "😂", "✨"]) for _ in range(rnd.randint(1, 2)))


def _sam(rnd: random.Random, text: str) -> str:
    text = text.rstrip("?").replace("i'm", "I'm").replace("i'll", "I'll")
    r = rnd.random()
    if r < 0.2:
        text = rnd.choice(["tbf ", "yeah ", "right, ", "mate, ", "honestly "]) + text
    if rnd.random() < 0.2:
        text += rnd.choice([" mate", " haha", ", cheers", " tbh", " I guess"])
    text = text[0].upper() + text[1:]
    return text + ("." if rnd.random() < 0.5 else "")


def _message(rnd: random.Random, who: str, move: str, slots: dict, react: bool = True) -> str:
    if react and rnd.random() < REACTION_RATE[who] and move not in ("propose",):
        return rnd.choice(SHORT_REACTIONS[who])
    if who == "Deniz":
        return _deniz(rnd, _fill(rnd, rnd.choice(DENIZ[move]), {**slots, "excuse": rnd.choice(EXCUSE_TR)}), slots)
    text = _fill(rnd, rnd.choice(EN[move]), slots)
    return {
        "Maya": lambda t: _maya(rnd, t),
        "Oliver": lambda t: _oliver(rnd, t),
        "Priya": lambda t: _priya(rnd, t, slots["emoji"]),
        "Sam": lambda t: _sam(rnd, t),
    }[who](text)


def is_short_reaction(text: str) -> bool:
    """A reaction ("lol", "ok", an emoji, "omg same"): at most two words. Exempt from the no-repeat rule."""
    return len(text.split()) <= 2


class _Author:
    """Draws messages for people, redrawing any that would repeat the author's earlier message word for word."""

    def __init__(self, rnd: random.Random):
        self.rnd = rnd
        self.said: dict[str, set[str]] = {n: set() for n in NAMES}

    def say(self, who: str, move: str, slots: dict) -> str:
        for attempt in range(30):
            text = _message(self.rnd, who, move, slots, react=attempt == 0)  # a redraw is never a reaction
            if is_short_reaction(text) or text not in self.said[who]:
                break
        self.said[who].add(text)
        return text


# what may follow what in a conversation (after the opener's "propose")
FLOW = {
    "propose": ["accept", "accept", "decline", "ask", "comment"],
    "accept": ["logistics", "ask", "accept", "comment", "opinion"],
    "decline": ["ask", "accept", "comment"],
    "ask": ["answer", "answer", "answer", "opinion"],
    "answer": ["accept", "ask", "logistics", "opinion", "comment"],
    "opinion": ["opinion", "answer", "comment", "ask"],
    "logistics": ["accept", "ask", "comment", "answer"],
    "comment": ["opinion", "comment", "ask", "accept"],
}


TARGET_AFFINITY = {  # how much more (or less) than her usual share Maya joins a conversation on each topic
    "food": 1.8,
    "film": 1.6,
    "music": 1.3,
    "trip": 1.0,
    "games": 0.5,
    "study": 0.6,
    "match": 0.35,
    "work": 0.45,
}
ADDRESS_RATE = 0.2


def _addressing(rnd: random.Random, speaker: str, text: str, weights: list[float]) -> tuple[str, str | None]:
    """Sometimes a message names the one it is for ("maya u in?", "Sam, thoughts?"): (text, addressee)."""
    if rnd.random() >= ADDRESS_RATE or is_short_reaction(text):
        return text, None
    others = [(n, w) for n, w in zip(NAMES, weights, strict=True) if n != speaker]
    who = rnd.choices([n for n, _ in others], [w for _, w in others])[0]
    name = who.lower() if speaker == TARGET else who
    return (f"{name} {text}" if rnd.random() < 0.5 else f"{text} {name}?"), who


def _conversation(rnd: random.Random, author: _Author, t: dt.datetime) -> list[SampleMessage]:
    name = rnd.choice(list(TOPICS))
    topic = TOPICS[name]
    slots = {
        "thing": rnd.choice(topic["thing"]),
        "place": rnd.choice(topic["place"]),
        "activity": rnd.choice(topic["activity"]),
        "time": rnd.choice(TIMES),
        "details": rnd.sample(topic["detail"], 3),
        "emoji": topic["emoji"],
    }
    # who talks depends on the topic (Maya is keen on food and films, bored by football and work) and on being
    # addressed: a message naming someone is answered by them most of the time, as in real group chats
    weights = [WEIGHTS[n] * (TARGET_AFFINITY[name] if n == TARGET else 1.0) for n in NAMES]
    speaker = rnd.choices(NAMES, weights)[0]
    out = [SampleMessage(t, speaker, author.say(speaker, "propose", slots))]
    move = "propose"
    addressed: str | None = None
    for _ in range(rnd.randint(5, 14)):
        if addressed and rnd.random() < 0.85:
            nxt = addressed
        else:
            nxt = rnd.choices(NAMES, weights)[0]
            if nxt == speaker:
                nxt = rnd.choice([n for n in NAMES if n != speaker])
        speaker, move = nxt, rnd.choice(FLOW[move])
        t = t + dt.timedelta(seconds=rnd.randint(10, 170))
        reply_to = len(out) - 1 if rnd.random() < 0.15 else None
        text, addressed = _addressing(rnd, speaker, author.say(speaker, move, slots), weights)
        out.append(SampleMessage(t, speaker, text, reply_to=reply_to))
        if rnd.random() < 0.2:  # a burst: the same person again right away
            t = t + dt.timedelta(seconds=rnd.randint(3, 20))
            out.append(SampleMessage(t, speaker, author.say(speaker, rnd.choice(FLOW[move]), slots)))
    last = out[-1].time
    add_tail(rnd, out, NAMES, SHARES, (0.08, 0.11, 0.13, 0.16))
    if rnd.random() < 0.25:  # a late answer, hours later: a new session about the same topic
        t = last + dt.timedelta(minutes=rnd.randint(30, 240))
        late = rnd.choice([n for n in NAMES if n != speaker])
        out.append(SampleMessage(t, late, author.say(late, rnd.choice(["accept", "decline", "comment"]), slots)))
        if rnd.random() < 0.7:
            other = rnd.choice([n for n in NAMES if n != late])
            out.append(
                SampleMessage(
                    t + dt.timedelta(seconds=rnd.randint(20, 150)),
                    other,
                    author.say(other, rnd.choice(["answer", "comment", "logistics"]), slots),
                )
            )
    return out


def generate_group(
    seed: int = 7, weeks: int = 24, conversations_per_day: tuple[int, int] = (2, 4)
) -> list[SampleMessage]:
    return generate_group_and_facts(seed, weeks, conversations_per_day)[0]


def generate_group_and_facts(
    seed: int = 7, weeks: int = 24, conversations_per_day: tuple[int, int] = (2, 4)
) -> tuple[list[SampleMessage], list[Fact]]:
    """The group chat with its planted facts (samples/facts.py) and the list of them."""
    rnd = random.Random(seed)
    author = _Author(rnd)
    start = dt.datetime(2024, 1, 8, tzinfo=TZ)
    msgs = [
        SampleMessage(start + dt.timedelta(hours=10), "Maya", 'created group "weekend crew"', "system"),
        SampleMessage(
            start + dt.timedelta(hours=10, seconds=20), "Maya", "added Oliver, Priya, Sam and Deniz", "system"
        ),
    ]
    for day in range(weeks * 7):
        base = start + dt.timedelta(days=day)
        for hour in sorted(rnd.sample(range(9, 23), rnd.randint(*conversations_per_day))):
            msgs += _conversation(rnd, author, base + dt.timedelta(hours=hour, minutes=rnd.randint(0, 40)))
    planted, facts = plant_facts(random.Random(seed * 1000 + 1), NAMES, TARGET, start, weeks * 7)
    msgs += planted
    msgs.sort(key=lambda m: m.time)
    return msgs, facts
