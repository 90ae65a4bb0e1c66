"""A seeded generator of a small, realistic group chat, written as WhatsApp, Discord and Telegram exports.

Four friends with distinct styles talk over several weeks: Deniz (the default target) mixes
Turkish and English, with Turkish suffixes on English words; Maya writes lowercase with "lol"/"xd";
Oliver writes long, punctuated sentences; Priya sends short bursts with emoji. Conversations
follow topics, replies pick up what was said (the pizza place, the film, the time), people answer
late, send bursts, media, links, and a few messages get deleted or edited. The Discord export
also has a quiz bot. Same seed, same chat.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TARGET = "Deniz"
PEOPLE = {
    "Deniz": {"discord_id": "402117755841560576", "discord_name": "deniz_k", "telegram_id": "user118204931"},
    "Maya": {"discord_id": "402118964418469888", "discord_name": "maya.lol", "telegram_id": "user204113577"},
    "Oliver": {"discord_id": "402119233755668480", "discord_name": "obennett", "telegram_id": "user310558421"},
    "Priya": {"discord_id": "402119900129906688", "discord_name": "priya_s", "telegram_id": "user452290718"},
}
# ids of everyone who speaks in either corpus (Sam only in the group corpus, data_prep/sample_group.py)
IDS = {**PEOPLE, "Sam": {"discord_id": "402121133388877312", "discord_name": "sam.w", "telegram_id": "user519930264"}}
BOT = {"name": "QuizBot", "discord_id": "402120011122233344"}
TZ = dt.timezone(dt.timedelta(hours=3))  # the friends live in Istanbul

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


@dataclass
class SampleMessage:
    time: dt.datetime
    author: str
    text: str
    kind: str = "text"  # text | media | deleted | system
    reply_to: int | None = None
    edited: bool = False


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
    r = rnd.random()
    if r < 0.12:
        who = rnd.choice(names)
        out.append(SampleMessage(t + dt.timedelta(seconds=rnd.randint(5, 60)), who, "", "media"))
    elif r < 0.17:
        who, text = rnd.choice(SHARES)
        out.append(SampleMessage(t + dt.timedelta(seconds=rnd.randint(5, 60)), who, text))
    elif r < 0.2:
        out.append(SampleMessage(t + dt.timedelta(seconds=rnd.randint(5, 60)), rnd.choice(names), "", "deleted"))
    elif r < 0.24:
        out[-1].edited = True
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


# ----------------------------------------------------------------------------- writers


def write_whatsapp(msgs: list[SampleMessage], path: Path) -> None:
    """Android, US locale: '3/4/24, 10:00\u202fAM - Name: text' (m/d/yy, 12h, U+202F before AM/PM)."""
    lines = []
    for m in msgs:
        local = m.time.astimezone(TZ)
        clock = f"{local.hour % 12 or 12}:{local:%M}\u202f{'AM' if local.hour < 12 else 'PM'}"
        stamp = f"{local.month}/{local.day}/{local:%y}, {clock} - "
        if m.kind == "system":
            lines.append(f"{stamp}{m.author} {m.text}")
            continue
        text = {"media": "<Media omitted>", "deleted": "This message was deleted"}.get(m.kind, m.text)
        if m.edited:
            text += " <This message was edited>"
        lines.append(f"{stamp}{m.author}: {text}")
    lines.insert(
        0,
        lines[0][: lines[0].index(" - ") + 3] + "Messages and calls are end-to-end encrypted. "
        "No one outside of this chat, not even WhatsApp, can read or listen to them. Tap to learn more.",
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _snowflake(t: dt.datetime, i: int) -> str:
    return str(((int(t.timestamp() * 1000) - 1420070400000) << 22) + i)


def write_discord(msgs: list[SampleMessage], path: Path, seed: int) -> None:
    """DiscordChatExporter JSON, with nicknames, replies, attachments and a quiz bot."""
    rnd = random.Random(seed + 1)
    ids = [_snowflake(m.time, i) for i, m in enumerate(msgs)]
    out = []

    def author(name: str) -> dict:
        if name == BOT["name"]:
            return {
                "id": BOT["discord_id"],
                "name": BOT["name"],
                "discriminator": "4821",
                "nickname": None,
                "color": None,
                "isBot": True,
                "roles": [],
                "avatarUrl": "",
            }
        p = IDS[name]
        return {
            "id": p["discord_id"],
            "name": p["discord_name"],
            "discriminator": "0000",
            "nickname": name,
            "color": None,
            "isBot": False,
            "roles": [],
            "avatarUrl": "",
        }

    for i, m in enumerate(msgs):
        if m.kind == "deleted":
            continue  # Discord keeps no trace of deleted messages
        entry: dict[str, object] = {
            "id": ids[i],
            "type": "Default",
            "timestamp": m.time.isoformat(timespec="milliseconds"),
            "timestampEdited": (m.time + dt.timedelta(minutes=1)).isoformat() if m.edited else None,
            "callEndedTimestamp": None,
            "isPinned": False,
            "content": m.text,
            "author": author(m.author),
            "attachments": [],
            "embeds": [],
            "stickers": [],
            "reactions": [],
            "mentions": [],
        }
        if m.kind == "system":
            entry["type"] = "RecipientAdd" if "added" in m.text else "ChannelNameChange"
            entry["content"] = m.text
        if m.kind == "media":
            entry["attachments"] = [
                {
                    "id": ids[i],
                    "url": f"https://cdn.discordapp.com/attachments/1/{ids[i]}/IMG_{i}.jpg",
                    "fileName": f"IMG_{i}.jpg",
                    "fileSizeBytes": 204800,
                }
            ]
        if m.reply_to is not None and msgs[m.reply_to].kind != "deleted":
            entry["type"] = "Reply"
            entry["reference"] = {
                "messageId": ids[m.reply_to],
                "channelId": "1215000000000000000",
                "guildId": "1214000000000000000",
            }
        out.append(entry)
        if rnd.random() < 0.03:
            t = m.time + dt.timedelta(seconds=1)
            out.append(
                {
                    "id": _snowflake(t, 10**6 + i),
                    "type": "Default",
                    "timestamp": t.isoformat(timespec="milliseconds"),
                    "timestampEdited": None,
                    "callEndedTimestamp": None,
                    "isPinned": False,
                    "content": f"🎲 Trivia! Question {i}: what is the capital of Australia?",
                    "author": author(BOT["name"]),
                    "attachments": [],
                    "embeds": [],
                    "stickers": [],
                    "reactions": [],
                    "mentions": [],
                }
            )
    doc = {
        "guild": {"id": "1214000000000000000", "name": "weekend crew", "iconUrl": ""},
        "channel": {
            "id": "1215000000000000000",
            "type": "GuildTextChat",
            "categoryId": None,
            "category": "Text Channels",
            "name": "general",
            "topic": None,
        },
        "dateRange": {"after": None, "before": None},
        "exportedAt": msgs[-1].time.isoformat(),
        "messages": out,
        "messageCount": len(out),
    }
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")


def write_telegram(msgs: list[SampleMessage], path: Path) -> None:
    """Telegram Desktop single-chat result.json, with entity lists for links and service messages."""
    out = []
    speakers = sorted({m.author for m in msgs if m.kind != "system"})
    for i, m in enumerate(msgs, 1):
        local = m.time.astimezone(TZ)
        base = {"id": i, "date": local.replace(tzinfo=None).isoformat(), "date_unixtime": str(int(m.time.timestamp()))}
        if m.kind == "deleted":
            continue
        if m.kind == "system":
            out.append(
                {
                    **base,
                    "type": "service",
                    "actor": m.author,
                    "actor_id": IDS[m.author]["telegram_id"],
                    "action": "create_group" if "created" in m.text else "invite_members",
                    "members": [n for n in speakers if n != m.author],
                    "text": "",
                    "text_entities": [],
                }
            )
            continue
        entry = {**base, "type": "message", "from": m.author, "from_id": IDS[m.author]["telegram_id"]}
        if m.edited:
            entry["edited"] = (local + dt.timedelta(minutes=1)).replace(tzinfo=None).isoformat()
            entry["edited_unixtime"] = str(int(m.time.timestamp()) + 60)
        if m.reply_to is not None and msgs[m.reply_to].kind != "deleted":
            entry["reply_to_message_id"] = m.reply_to + 1
        if m.kind == "media":
            entry.update(
                {
                    "photo": "(File not included. Change data exporting settings to download.)",
                    "width": 1280,
                    "height": 960,
                    "text": "",
                    "text_entities": [],
                }
            )
        elif "https://" in m.text:
            before, _, rest = m.text.partition("https://")
            link, space, after = rest.partition(" ")
            parts = [p for p in (before, {"type": "link", "text": "https://" + link}, space + after) if p]
            entry.update(
                {
                    "text": parts,
                    "text_entities": [p if isinstance(p, dict) else {"type": "plain", "text": p} for p in parts],
                }
            )
        else:
            entry.update({"text": m.text, "text_entities": [{"type": "plain", "text": m.text}]})
        out.append(entry)
    doc = {"name": "weekend crew", "type": "private_group", "id": 1988123456, "messages": out}
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")


CORPORA = ("group", "small")
FACTS_FILE = "facts.jsonl"


def write_sample(out_dir: str | Path, seed: int = 7, weeks: int | None = None, corpus: str = "group") -> dict:
    """Write a sample corpus in all three formats plus sample.json; return sample.json's content.
    `group`: the realistic group chat (data_prep/sample_group.py, 24 weeks, ~6,400 messages, target Maya);
    `small`: the small chat of this module (6 weeks, ~800 messages, target Deniz), for fast tests."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if corpus == "group":
        from clonekit.data_prep import sample_group

        weeks = weeks or 24
        msgs, facts = sample_group.generate_group_and_facts(seed, weeks)
        target, people = sample_group.TARGET, list(sample_group.NAMES)
        with (out / FACTS_FILE).open("w", encoding="utf-8") as f:  # what compare --facts asks the clone
            for fact in facts:
                row = {
                    "person": fact.person,
                    "kind": fact.kind,
                    "answer": fact.value,
                    "question": fact.question,
                    "told": fact.told.isoformat(),
                    "asked": fact.asked.isoformat(),
                }
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif corpus == "small":
        weeks = weeks or 6
        msgs, target, people = generate(seed, weeks), TARGET, list(PEOPLE)
    else:
        raise ValueError(f"unknown sample corpus {corpus!r} (one of {CORPORA})")
    files = {
        "whatsapp": "WhatsApp Chat with weekend crew.txt",
        "discord": "weekend crew - general [1215000000000000000].json",
        "telegram": "result.json",
    }
    write_whatsapp(msgs, out / files["whatsapp"])
    write_discord(msgs, out / files["discord"], seed)
    write_telegram(msgs, out / files["telegram"])
    info = {
        "corpus": corpus,
        "target": target,
        "people": people,
        "bots": {"discord": [BOT["name"]]},
        "seed": seed,
        "weeks": weeks,
        "messages": len(msgs),
        "files": files,
    }
    if corpus == "group":
        info["facts"] = FACTS_FILE
    (out / "sample.json").write_text(json.dumps(info, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return info
