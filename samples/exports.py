"""Write a sample corpus as WhatsApp, Discord and Telegram exports, with sample.json (and facts.jsonl for the
group corpus): what `clonekit sample` does."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

from clonekit.samples.messages import BOT, IDS, TZ, SampleMessage

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
    `group`: the realistic group chat (samples/group.py, 24 weeks, ~8,300 messages, target Maya);
    `small`: the small chat (samples/small.py, 6 weeks, ~800 messages, target Deniz), for fast tests."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if corpus == "group":
        from clonekit.samples import group as sample_group

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
        from clonekit.samples import small

        msgs, target, people = small.generate(seed, weeks), small.TARGET, list(small.PEOPLE)
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
