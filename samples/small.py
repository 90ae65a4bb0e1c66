"""The small sample corpus: a seeded 4-person chat for fast tests (`clonekit sample --corpus small`).

Four friends with distinct styles talk over several weeks: Deniz (the default target) mixes
Turkish and English, with Turkish suffixes on English words; Maya writes lowercase with "lol"/"xd";
Oliver writes long, punctuated sentences; Priya sends short bursts with emoji. Conversations
follow topics, replies pick up what was said (the pizza place, the film, the time), people answer
late, send bursts, media, links, and a few messages get deleted or edited. The Discord export
also has a quiz bot. Same seed, same chat.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from clonekit.samples.messages import PEOPLE, TZ, SampleMessage, add_tail

TARGET = "Deniz"
TOPICS: dict[str, dict[str, Any]] = {
    "food": {
        "slots": {"x": ["pizza", "lahmacun", "sushi", "burgers", "dürüm"], "t": ["8", "9", "7:30"]},
        "open": {
            "Maya": "anyone up for {x} tonight lol",
            "Oliver": "Would anyone fancy {x} this evening? I have had a long day.",
            "Priya": "{x}?? 🍕🍕",
            "Deniz": "abi {x} yiyelim mi bu akşam, canım çok çekti",
        },
        "reply": {
            "Deniz": [
                "{x} mı? ben varım abi",
                "harbiden {x} iyi olur, saat {t}'de mi?",
                "ya {x} place'i kapanmış mıydı, check'leyin bi",
                "ben de geliyorum, {t} gibi orda olurum",
                "{x}'ye hayır denmez abi",
            ],
            "Maya": ["{x} lol yes", "omg {x} xd im in", "wait {x} again lol", "only if we go at {t} lol"],
            "Oliver": [
                "I could be persuaded to have {x}, provided we don't go to the place near the station again.",
                "{x} sounds excellent. Shall we say {t}? I will book a table.",
                "Count me in, although I have to leave by eleven.",
            ],
            "Priya": ["yesss {x} 🎉", "omw at {t} 🏃‍♀️", "{x} 😍😍", "save me a seat 🙏"],
        },
    },
    "film": {
        "slots": {
            "x": ["Dune", "Oppenheimer", "the new Pixar one", "Perfect Days"],
            "t": ["Friday", "Saturday", "Sunday"],
        },
        "open": {
            "Oliver": "Has anyone seen {x} yet? The reviews have been rather divided.",
            "Maya": "{x} on {t}?? lol",
            "Deniz": "{x}'i izleyen var mı, spoiler vermeyin ama",
            "Priya": "{x} this {t}? 🎬",
        },
        "reply": {
            "Deniz": [
                "{x}'i izledim abi, ending'i çok iyiydi",
                "{t} olmaz ya, exam'e çalışıyorum",
                "bence {x} overrated ama izleriz",
                "tamam {t} akşamı ticket'ları ben alırım",
            ],
            "Maya": ["{x} was sooo good lol", "i cried at {x} xd dont judge", "{t} works lol", "no spoilers pls lol"],
            "Oliver": [
                "I thought {x} was beautifully shot, although the second half dragged a little.",
                "{t} suits me. Shall we meet at the cinema at half past seven?",
                "I'm afraid I have already seen {x}, but I would happily see it again.",
            ],
            "Priya": ["{x}!!! 🍿", "{t} yes 🙌", "popcorn on me 🍿😂"],
        },
    },
    "match": {
        "slots": {"x": ["Galatasaray", "Fenerbahçe", "Beşiktaş"], "t": ["tonight", "on Sunday"]},
        "open": {
            "Deniz": "{x} maçı {t}, kim geliyor bara?",
            "Oliver": "Is anyone watching the {x} match {t}?",
            "Maya": "{x} match {t} lol who cares",
            "Priya": "{x} {t}!! ⚽️",
        },
        "reply": {
            "Deniz": [
                "abi {x} bu sene şampiyon olur, mark my words",
                "maç {t}, bar'da yer ayırttım",
                "hakem yine rezaletti ya",
                "ben {x}'liyim biliyorsun, tartışmaya gerek yok",
            ],
            "Maya": ["football again lol", "ill come for the snacks xd", "who is {x} lol"],
            "Oliver": [
                "I'm not much of a football person, but I will come along for the atmosphere.",
                "The last {x} match was genuinely thrilling, I have to admit.",
            ],
            "Priya": ["go {x}!! ⚽️🔥", "im there {t} 🙌", "wearing my scarf 🧣"],
        },
    },
    "exam": {
        "slots": {
            "x": ["statistics", "the algorithms exam", "the thesis draft", "the group project"],
            "t": ["Monday", "Thursday"],
        },
        "open": {
            "Maya": "who else is dying over {x} lol",
            "Oliver": "I have barely started on {x}, and it is due on {t}.",
            "Deniz": "abi {x} deadline'ı {t}, hiç başlamadım",
            "Priya": "{x} 😭😭",
        },
        "reply": {
            "Deniz": [
                "ya ben de {x}'e hiç çalışmadım",
                "library'de study'leyelim mi {t}'den önce",
                "deadline'ı extend'lemişler bence, mail'e bakın",
                "harbiden stres oldum abi",
            ],
            "Maya": ["same lol", "{x} is killing me xd", "lets study together lol", "i havent even opened it lol"],
            "Oliver": [
                "If it helps, I've put my notes on {x} in the shared folder. "
                "They are not perfect, but they cover the basics.",
                "We could meet in the library on {t} morning, if that suits everyone.",
            ],
            "Priya": ["library {t}? 📚", "send notes pls 🙏", "coffee first ☕️"],
        },
    },
    "trip": {
        "slots": {"x": ["Bozcaada", "Kaş", "Cappadocia", "the Black Sea coast"], "t": ["next weekend", "in May"]},
        "open": {
            "Priya": "{x} {t}??? 🏖️",
            "Deniz": "{t} {x}'ya gidelim mi abi, road trip",
            "Oliver": "I've been thinking about a trip to {x} {t}. Would anyone be interested?",
            "Maya": "{x} {t} lol who's in",
        },
        "reply": {
            "Deniz": [
                "{x} harika olur, car'ı ben ayarlarım",
                "budget'ımız ne kadar ya",
                "{t} olur, ben izin alırım iş'ten",
                "abi {x}'da bir pansiyon biliyorum, link'i atarım",
            ],
            "Maya": ["{x} lol yes pls", "i need a vacation xd", "can we bring snacks lol"],
            "Oliver": [
                "{x} would be wonderful. I can look into trains and accommodation, if nobody else has already.",
                "I'm in, as long as we agree on a budget beforehand.",
            ],
            "Priya": ["beach!!! 🏖️☀️", "{x} 😍", "im packing already 🧳"],
        },
    },
}
LATE = {
    "Deniz": "pardon abi şimdi gördüm, {x} için ben de varım",
    "Maya": "sorry just saw this lol",
    "Oliver": "Apologies, I've only just seen these messages. I'm still happy to join.",
    "Priya": "sorry was asleep 😴",
}
SHARES = [
    ("Oliver", "Here is the booking confirmation: https://booking.example.com/res/83921?ref=chat"),
    ("Priya", "my new number is +90 532 418 27 65 📱"),
    ("Oliver", "If anything changes, email me at oliver.bennett@example.com rather than messaging."),
    ("Deniz", "konum'u attım abi: https://maps.example.com/?q=41.0369,28.9850"),
    ("Maya", "my iban lol TR330006100519786457841326 dont steal xd"),
]


def generate(seed: int = 7, weeks: int = 6, conversations_per_day: tuple[int, int] = (1, 3)) -> list[SampleMessage]:
    rnd = random.Random(seed)
    start = dt.datetime(2024, 3, 4, tzinfo=TZ)
    msgs: list[SampleMessage] = [
        SampleMessage(start + dt.timedelta(hours=10), "Maya", 'created group "weekend crew"', "system"),
        SampleMessage(start + dt.timedelta(hours=10, seconds=20), "Maya", "added Deniz, Oliver and Priya", "system"),
    ]
    names = list(PEOPLE)
    for day in range(weeks * 7):
        base = start + dt.timedelta(days=day)
        hours = sorted(rnd.sample(range(9, 23), rnd.randint(*conversations_per_day)))
        for hour in hours:
            t = base + dt.timedelta(hours=hour, minutes=rnd.randint(0, 59))
            msgs += _conversation(rnd, t, names, len(msgs))
    msgs.sort(key=lambda m: m.time)
    return msgs


def _conversation(rnd: random.Random, t: dt.datetime, names: list[str], offset: int) -> list[SampleMessage]:
    topic = TOPICS[rnd.choice(list(TOPICS))]
    slots = {k: rnd.choice(v) for k, v in topic["slots"].items()}
    opener = rnd.choice(list(topic["open"]))
    out = [SampleMessage(t, opener, topic["open"][opener].format(**slots))]
    last_speaker = opener
    for _ in range(rnd.randint(3, 9)):
        weights = [4 if n == TARGET else 2 for n in names]
        speaker = rnd.choices(names, weights)[0]
        if speaker == last_speaker and rnd.random() < 0.5:
            speaker = rnd.choice([n for n in names if n != speaker])
        t = t + dt.timedelta(seconds=rnd.randint(8, 150))
        line = rnd.choice(topic["reply"][speaker]).format(**slots)
        reply_to = offset + len(out) - 1 if rnd.random() < 0.2 else None
        out.append(SampleMessage(t, speaker, line, reply_to=reply_to))
        if rnd.random() < 0.25:  # a burst: one more message right after
            t = t + dt.timedelta(seconds=rnd.randint(2, 15))
            out.append(SampleMessage(t, speaker, rnd.choice(topic["reply"][speaker]).format(**slots)))
        last_speaker = speaker
    add_tail(rnd, out, names, SHARES, (0.12, 0.17, 0.2, 0.24))
    if rnd.random() < 0.3:  # somebody answers late: a new session starts
        late = rnd.choice([n for n in names if n != last_speaker])
        t = t + dt.timedelta(minutes=rnd.randint(20, 180))
        out.append(SampleMessage(t, late, LATE[late].format(**slots)))
        if late != TARGET and rnd.random() < 0.7:
            out.append(
                SampleMessage(
                    t + dt.timedelta(seconds=rnd.randint(20, 120)),
                    TARGET,
                    rnd.choice(topic["reply"][TARGET]).format(**slots),
                )
            )
    return out
