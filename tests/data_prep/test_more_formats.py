"""The export formats beyond WhatsApp, Discord JSON/CSV and Telegram JSON: each fixture is written from the format's
public documentation (or the exporting tool's source) and parses exactly: author, time (with its UTC offset where
the format has one), kind and text, every message read accounted for."""

import json
import sqlite3
import zipfile
from pathlib import Path

import pytest

from clonekit.data_prep.export_common import fix_mojibake
from clonekit.data_prep.imessage import typedstream_text
from clonekit.data_prep.parse import FORMATS, ParseOptions, detect_format, parse_exports
from clonekit.errors import ClonekitError

FIX = Path(__file__).parent.parent / "fixtures"


def parsed(tmp_path, path, **options):
    out = tmp_path / "messages.jsonl"
    report = parse_exports([path], out, ParseOptions(workers=1, **options))
    msgs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert report.read == report.kept + sum(report.skipped.values())
    assert len(msgs) == report.kept
    return msgs, report


def rows(msgs):
    return [(m["author"], m["timestamp"], m["kind"], m["text"]) for m in msgs]


EXPECTED = {
    "telegram_html/ChatExport_2024-01-15": (
        "telegram-html",
        [
            ("", "2024-01-14T21:00:00+03:00", "system", "Maya Kaya created group «Weekend Crew»"),
            ("Maya Kaya", "2024-01-14T21:05:00+03:00", "text", "Pizza tonight?\nI'm starving & broke 🍕"),
            ("Maya Kaya", "2024-01-14T21:05:30+03:00", "text", "anyone?"),  # "joined": the author before
            ("Deniz", "2024-01-14T21:07:12+03:00", "text", "yes! the menu"),
            ("Deniz", "2024-01-14T21:08:00+03:00", "media", "photo"),
            ("Maya Kaya", "2024-01-14T21:10:00+03:00", "text", "2 for 1 on Sundays"),
            ("Maya Kaya", "2024-01-14T21:11:00+03:00", "text", "see you at 8"),  # joined, across pages
            ("", "2024-01-14T21:12:00+03:00", "system", "Maya Kaya invited Oliver"),
        ],
        {},
    ),
    "telegram_html/handmade_and_service.html": (
        "telegram-html",
        [
            ("Alice", "2021-12-14T23:43:49+03:00", "text", 'Hello "world"\nsecond line'),
            ("", "2021-12-14T23:43:49+03:00", "system", "Alice invited Bob"),  # no date: the time before it
            ("Bob", "2025-01-01T10:00:00", "text", "Hello"),  # no .body wrapper, no UTC offset
        ],
        {"no date": 1},  # a service line before any time is known
    ),
    "discord_html/Friends - general [800000000000000002].html": (
        "discord-dce-html",
        [
            ("Maya", "2024-01-14T21:05:00", "text", "anyone up for pizza? 🍕"),
            ("Maya", "2024-01-14T21:06:00", "text", "line one\nline two"),
            ("Deniz", "2024-01-14T21:10:00", "text", "yes @Maya <3"),
            ("Deniz", "2024-01-14T21:11:00", "media", "menu.png"),
            ("PizzaBot", "2024-01-14T21:12:00", "text", "Order placed!"),
            ("", "2024-01-14T21:15:00", "system", "Oliver joined the server."),
        ],
        {},
    ),
    "discord_html/Old - chat [1].html": (  # DiscordChatExporter before 2.30: one author and time per group
        "discord-dce-html",
        [
            ("Maya", "2024-01-14T21:05:00", "text", "pizza? now"),
            ("Maya", "2024-01-14T21:05:00", "text", "anyone"),
            ("PizzaBot", "2024-01-14T21:07:00", "media", "menu.png"),
        ],
        {},
    ),
    "meta/messages/inbox/mayak_123/message_1.json": (
        "meta-json",
        [
            ("Maya Kaya", "2024-01-14T18:10:00+00:00", "text", "pizza tonight? 😋"),
            ("Deniz Çelik", "2024-01-14T18:12:00+00:00", "text", "Ça va? Größe 🍕 ok"),
            ("Maya Kaya", "2024-01-14T18:13:00+00:00", "deleted", "unsent a message"),
            ("Maya Kaya", "2024-01-14T18:14:00+00:00", "media", "photos"),
            ("", "2024-01-14T18:15:00+00:00", "system", "Deniz Çelik: Deniz Çelik reacted ❤ to your message "),
        ],
        {},
    ),
    "meta/your_instagram_activity/messages/inbox/deniz_456/message_1.json": (
        "meta-json",
        [
            ("deniz_k", "2024-01-14T18:13:20+00:00", "text", "look at this café ☕"),
            ("deniz_k", "2024-01-14T18:15:00+00:00", "text", "https://www.instagram.com/p/abc/"),
            ("", "2024-01-14T18:16:40+00:00", "system", "maya.kaya: Liked a message"),
        ],
        {},
    ),
    "imessage/chat.db": (
        "imessage",
        [
            ("+15551234567", "2024-01-14T21:05:00+00:00", "text", "pizza tonight?"),
            ("Maya", "2024-01-14T21:06:00+00:00", "text", "yes! café at 8 ☕"),  # attributedBody only
            ("deniz@example.com", "2024-01-14T21:06:30+00:00", "media", "attachment"),
            ("deniz@example.com", "2024-01-14T21:07:00+00:00", "text", "count me in"),
            ("+15551234567", "2024-01-14T21:07:30+00:00", "deleted", "unsent a message"),
            ("", "2024-01-14T21:08:20+00:00", "system", "Pizza Friday"),
        ],
        {"reaction": 1},
    ),
    "sms/sms-20240115.xml": (
        "android-sms",
        [
            ("Maya Kaya", "2024-01-14T16:05:00-05:00", "text", "pizza tonight? 🍕"),
            ("Maya", "2024-01-14T16:06:00-05:00", "text", "yes!\nat 8?"),
            ("Deniz", "2024-01-14T16:08:20-05:00", "text", "group pizza it is"),
            ("Maya", "2024-01-14T16:10:00-05:00", "media", "IMG_0042.jpg"),
        ],
        {"draft": 1, "empty": 1},
    ),
    "signal/Maya/chat.md": (
        "signal-markdown",
        [
            ("Maya", "2024-01-14T21:05:00", "text", "pizza tonight?"),
            ("Deniz", "2024-01-14T21:05:40", "text", "yes!\nsecond line"),
            ("Maya", "2024-01-14T21:06:10", "text", "great, 8pm then"),  # the quote of "yes!" dropped
            ("Deniz", "2024-01-14T21:07:00", "media", "IMG_0042.jpg"),
            ("Maya", "2024-01-14T21:08:00", "deleted", "(This message was deleted)"),
            ("Maya", "2024-01-14T21:09:00", "media", "🍕"),
        ],
        {},
    ),
    "signal/Maya/data.json": (
        "signal-json",
        [
            ("Maya", "2024-01-14T21:05:00", "text", "pizza tonight?"),
            ("Deniz", "2024-01-14T21:05:40", "text", "yes!\nsecond line"),
            ("Maya", "2024-01-14T21:06:10", "text", "great, 8pm then"),
            ("Deniz", "2024-01-14T21:07:00", "media", "IMG_0042.jpg"),
            ("Maya", "2024-01-14T21:08:00", "deleted", "(This message was deleted)"),
            ("", "2024-01-14T21:09:30", "system", "Outgoing voice call (accepted, 2m 3s)"),
        ],
        {},
    ),
    "slack/workspace": (
        "slack",
        [
            ("", "2024-01-14T21:00:00+00:00", "system", "@Deniz Çelik has joined the channel"),
            ("maya.k", "2024-01-14T21:05:00+00:00", "text", "pizza tonight @Deniz Çelik? see #random & the menu"),
            ("Deniz Çelik", "2024-01-14T21:06:00+00:00", "text", "yes!\nat 8 :pizza:"),
            ("maya.k", "2024-01-14T21:07:00+00:00", "media", "menu.png"),
            ("Pizza Bot", "2024-01-14T21:08:00+00:00", "text", "Order placed!"),
            ("", "2024-01-14T21:09:00+00:00", "deleted", "This message was deleted."),
            ("maya.k", "2024-01-15T07:00:00+00:00", "text", "morning @here"),
        ],
        {},
    ),
    "line/en.txt": (
        "line",
        [
            ("Maya", "2024-01-14T21:05:00", "text", "pizza tonight?"),
            ("Deniz", "2024-01-14T21:06:00", "text", "yes!\nat 8?"),
            ("Maya", "2024-01-14T21:07:00", "media", "[Sticker]"),
            ("Maya", "2024-01-14T21:08:00", "media", "[Photo]"),
            ("Maya", "2024-01-14T21:09:00", "deleted", "Maya unsent a message."),
            ("", "2024-01-14T21:10:00", "system", "Oliver joined the group."),
            ("Deniz", "2024-01-15T09:01:00", "text", "morning"),
        ],
        {},
    ),
    "line/ja.txt": (
        "line",
        [
            ("Maya", "2024-01-14T21:05:00", "text", "今夜ピザどう？"),
            ("Deniz", "2024-01-14T21:06:00", "text", "いいね"),
            ("Maya", "2024-01-14T21:07:00", "media", "[スタンプ]"),
        ],
        {},
    ),
    "line/zh.txt": (
        "line",
        [
            ("Maya", "2024-01-14T21:05:00", "text", "今晚吃披薩？"),
            ("Deniz", "2024-01-14T21:06:00", "text", "好啊"),
            ("Maya", "2024-01-14T23:30:00", "media", "[照片]"),
        ],
        {},
    ),
    "line/en_12h.txt": (
        "line",
        [
            ("Mr. Tanaka", "2026-01-15T21:30:00", "text", "the report?"),
            ("Me", "2026-01-15T21:35:00", "text", "sorry, tomorrow"),
            ("Me", "2026-01-15T23:59:00", "media", "[File] report.pdf"),
        ],
        {},
    ),
    "line/en_saved_on.txt": (
        "line",
        [
            ("Jordan Lee", "2026-09-25T21:03:00", "text", "What time works tomorrow?"),
            ("Alex Rivera", "2026-09-25T21:05:00", "text", "How about two?"),
            ("Jordan Lee", "2026-09-25T21:10:00", "media", "[Sticker]"),
        ],
        {},
    ),
    "line/android_en.txt": (
        "line",
        [("Maya", "2024-01-14T21:05:00", "text", "pizza tonight?"), ("Deniz", "2024-01-14T21:06:00", "text", "sure")],
        {},
    ),
    "wechat/小美.csv": (
        "wechat-csv",
        [
            ("小美", "2024-01-14T21:05:00+08:00", "text", "今晚吃火锅吗？"),
            ("Deniz", "2024-01-14T21:06:00+08:00", "text", "好啊\n几点？"),
            ("小美", "2024-01-14T21:07:00+08:00", "media", "image"),
            ("小美", "2024-01-14T21:08:00+08:00", "text", "八点见"),  # a quoted reply: its own text
            ("小美", "2024-01-14T21:09:00+08:00", "deleted", '"小美" 撤回了一条消息'),
            ("", "2024-01-14T21:10:00+08:00", "system", "你已添加了小美，现在可以开始聊天了。"),
        ],
        {},
    ),
    "wechat/pywxdump_maya.csv": (
        "wechat-csv",
        [
            ("wxid_maya", "2024-01-14T21:05:00", "text", "今晚吃火锅吗？"),
            ("Deniz", "2024-01-14T21:06:00", "text", "好啊"),
            ("wxid_maya", "2024-01-14T21:07:00", "media", "图片"),
            ("", "2024-01-14T21:10:00", "system", "你已添加了小美"),
        ],
        {},
    ),
    "qq/Maya.txt": (
        "qq",
        [
            ("Maya", "2024-01-14T21:05:00", "text", "今晚吃火锅吗？"),
            ("Deniz", "2024-01-14T21:06:12", "text", "好啊\n几点？"),
            ("Maya", "2024-01-14T21:07:00", "media", "[图片]"),
            ("Maya", "2024-01-14T21:08:00", "text", "八点见"),
            ("", "2024-01-14T21:09:00", "system", "Maya 撤回了一条消息"),
        ],
        {},
    ),
}
SELF_NAMED = {"imessage", "android-sms", "signal-markdown", "signal-json", "wechat-csv"}


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_documented_example_parses_exactly(tmp_path, fixture):
    variant, expected, skipped = EXPECTED[fixture]
    options = {"self_name": "Maya" if "imessage" in fixture or "sms" in fixture else "Deniz"}
    if variant == "wechat-csv":
        options = {"self_name": "Deniz"}
    msgs, report = parsed(tmp_path, FIX / fixture, **(options if variant in SELF_NAMED else {}))
    assert report.files[0]["format"] == variant
    assert rows(msgs) == expected
    assert dict(report.skipped) == skipped


def test_every_new_format_is_chosen_by_name_and_refuses_the_others(tmp_path):
    families = {
        "telegram_html": "telegram",
        "discord_html": "discord",
        "meta": "messenger",
        "imessage": "imessage",
        "sms": "sms",
        "signal": "signal",
        "slack": "slack",
        "line": "line",
        "wechat": "wechat",
        "qq": "qq",
    }
    for fixture in EXPECTED:
        family = families[fixture.split("/")[0]]
        assert detect_format(FIX / fixture, family).variant == EXPECTED[fixture][0]
        other = "whatsapp" if family != "whatsapp" else "discord"
        with pytest.raises(ClonekitError, match="unknown export format"):
            detect_format(FIX / fixture, other)
    assert "instagram" in FORMATS
    assert detect_format(FIX / "meta/your_instagram_activity/messages/inbox/deniz_456/message_1.json", "instagram")


def test_replies_edits_bots_and_ids(tmp_path):
    msgs, _ = parsed(tmp_path, FIX / "discord_html/Friends - general [800000000000000002].html")
    by_text = {m["text"]: m for m in msgs}
    assert by_text["yes @Maya <3"]["reply_to"] == "900000000000000001"
    assert by_text["line one\nline two"]["edited"] is True
    assert by_text["Order placed!"]["is_bot"] is True
    assert by_text["anyone up for pizza? 🍕"]["author_id"] == "discord:700000000000000001"
    assert by_text["anyone up for pizza? 🍕"]["aka"] == ["maya_k"]
    msgs, _ = parsed(tmp_path, FIX / "slack/workspace")
    reply = next(m for m in msgs if m["text"].startswith("yes!"))
    assert (reply["reply_to"], reply["edited"], reply["author_id"]) == ("1705266300.000200", True, "slack:U02DENIZ")
    assert next(m for m in msgs if m["author"] == "Pizza Bot")["is_bot"] is True
    msgs, _ = parsed(tmp_path, FIX / "imessage/chat.db")
    reply = next(m for m in msgs if m["text"] == "count me in")
    assert (reply["reply_to"], reply["edited"], reply["id"]) == ("G1", True, "G5")
    msgs, _ = parsed(tmp_path, FIX / "telegram_html/ChatExport_2024-01-15")
    assert next(m for m in msgs if m["text"] == "yes! the menu")["reply_to"] == "102"
    assert next(m for m in msgs if m["text"] == "2 for 1 on Sundays")["forwarded"] is True


def test_a_later_telegram_page_alone_takes_its_first_author_from_the_page_before(tmp_path):
    msgs, _ = parsed(tmp_path, FIX / "telegram_html/ChatExport_2024-01-15/messages2.html")
    assert rows(msgs)[0] == ("Maya Kaya", "2024-01-14T21:11:00+03:00", "text", "see you at 8")


def test_slack_zip_equals_its_folder(tmp_path):
    zipped, _ = parsed(tmp_path, FIX / "slack/Acme Slack export Jan 14 2024 - Jan 15 2024.zip")
    folder, _ = parsed(tmp_path, FIX / "slack/workspace")
    assert zipped == folder


def test_meta_mojibake_is_repaired_exactly():
    assert fix_mojibake("Ã\u0087a va? \u00f0\u009f\u008d\u0095") == "Ça va? 🍕"
    assert fix_mojibake("plain") == "plain"
    assert fix_mojibake("already right: Ça, 🍕") == "already right: Ça, 🍕"  # not of that shape: untouched


def test_typedstream_lengths():
    from tests.fixtures.imessage.make_chat_db import typedstream

    assert typedstream_text(typedstream("hi")) == "hi"
    long = "é" * 200  # 400 bytes: the 0x81 two-byte length
    assert typedstream_text(typedstream(long)) == long
    assert typedstream_text(b"garbage") == ""
    mutable = typedstream("hi").replace(b"NSString", b"NSMutableString")  # some rows archive a mutable string
    assert typedstream_text(mutable) == "hi"


def test_old_chat_db_without_newer_columns(tmp_path):
    db = sqlite3.connect(tmp_path / "chat.db")
    db.executescript(
        "CREATE TABLE handle (ROWID INTEGER PRIMARY KEY, id TEXT);"
        "CREATE TABLE chat (ROWID INTEGER PRIMARY KEY, chat_identifier TEXT);"
        "CREATE TABLE message (ROWID INTEGER PRIMARY KEY, guid TEXT, text TEXT, handle_id INTEGER, date INTEGER,"
        " is_from_me INTEGER);"
        "CREATE TABLE chat_message_join (chat_id INTEGER, message_id INTEGER);"
        "INSERT INTO handle VALUES (1, '+4915112345678'); INSERT INTO chat VALUES (1, '+4915112345678');"
        "INSERT INTO message VALUES (1, 'A', 'hallo', 1, 500000000, 0);"  # seconds: before High Sierra
        "INSERT INTO chat_message_join VALUES (1, 1);"
    )
    db.commit()
    db.close()
    msgs, _ = parsed(tmp_path, tmp_path / "chat.db")
    assert rows(msgs) == [("+4915112345678", "2016-11-05T00:53:20+00:00", "text", "hallo")]


def test_damaged_inputs_are_one_clear_error(tmp_path):
    (tmp_path / "chat.db").write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    with pytest.raises(ClonekitError, match="iMessage|unknown export format"):
        parsed(tmp_path, tmp_path / "chat.db")
    bad = (FIX / "sms/sms-20240115.xml").read_text(encoding="utf-8").replace("</smses>", "<sms ")
    (tmp_path / "sms.xml").write_text(bad, encoding="utf-8")
    with pytest.raises(ClonekitError, match="not well-formed XML") as e:
        parsed(tmp_path, tmp_path / "sms.xml")
    assert e.value.line is not None
    with zipfile.ZipFile(tmp_path / "slack.zip", "w") as z:
        z.writestr("users.json", "[]")
        z.writestr("channels.json", "[]")
        z.writestr("general/2024-01-14.json", "{not json")
    with pytest.raises(ClonekitError, match="invalid JSON") as e:
        parsed(tmp_path, tmp_path / "slack.zip")
    assert "general/2024-01-14.json" in str(e.value)
