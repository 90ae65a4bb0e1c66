"""The last leak routes of an excluded person, crafted into real exports and run through `prep parse` and
`prep build`: their name held, accented, possessive, shortened ("Pri") or by a declared nickname, their @handle,
their words quoted by someone else, street addresses in three countries' formats, obfuscated emails. No output file
may hold any of them verbatim, and the manifest counts every type."""

import json
import re

from clonekit.config import MemoryConfig, PrepConfig
from clonekit.data_prep.parse import ParseOptions, parse_exports
from tests.helpers import build_dataset_json

SECRET = "quince jam recipe"
ADDRESSES = {
    "us": "1600 Pennsylvania Avenue NW, Washington, DC 20500",
    "uk": "221B Baker Street, London NW1 6XE",
    "de": "Hauptstraße 5, 10115 Berlin",
    "ca": "123 Main St., Toronto, ON M5V 2T6",
}
EMAILS = ["priya.s(at)example.com", "maya [at] example [dot] org", '"priya sharma"@example.com', "jo at mail dot com"]
HANDLES = ["@priya_s", "@maya.k", "@qx_handle"]
SAID = [  # (what Maya writes, the words of Priya's that must not survive)
    ("Priyaaa is late again lol", None),
    ("Príya's dog is cute", None),
    ("PRIYAS bag is here", None),
    ("Pri is coming too", None),
    ("ask P-dog, she knows", None),
    (f'Priya said: "the {SECRET} is mine" haha', SECRET),
    ("Priya wrote:\n> never tell anyone the quince trick\nok fine", "quince trick"),
]


def _telegram(path):
    msgs = []

    def add(frm, from_id, text):
        n = len(msgs)
        msgs.append(
            {
                "id": n + 1,
                "type": "message",
                "date": f"2024-03-01T20:{n:02d}:00",
                "date_unixtime": str(1709323200 + 60 * n),
                "from": frm,
                "from_id": from_id,
                "text": text,
            }
        )

    add("Príya", "user7", f"my {SECRET}, shh")
    for text, _ in SAID:
        add("Maya", "user1", text)
        add("Oliver", "user2", "ok")
    add("Maya", "user1", "addresses: " + "; ".join(ADDRESSES.values()))
    add("Oliver", "user2", "emails: " + ", ".join(EMAILS))
    add("Maya", "user1", "handles: " + " ".join(HANDLES))
    add("Oliver", "user2", "cool")
    add("Maya", "user1", "bye")
    path.write_text(json.dumps({"name": "Crew", "type": "private_group", "id": 5, "messages": msgs}), encoding="utf-8")


def _slack(root):
    (root / "general").mkdir(parents=True)
    (root / "users.json").write_text(
        json.dumps(
            [
                {"id": "U1", "name": "maya", "profile": {"display_name": "Maya", "real_name": "Maya M"}},
                {"id": "U7", "name": "qx_handle", "profile": {"display_name": "Priyaaa", "real_name": "Priya Sharma"}},
                {"id": "U2", "name": "oliver", "profile": {"display_name": "Oliver"}},
            ]
        ),
        encoding="utf-8",
    )
    (root / "channels.json").write_text(json.dumps([{"id": "C1", "name": "general"}]), encoding="utf-8")
    day = [
        {"type": "message", "user": "U7", "text": f"{SECRET} v2", "ts": "1709500000.000100"},
        {"type": "message", "user": "U1", "text": "thanks <@U7>!", "ts": "1709500060.000200"},
        {"type": "message", "user": "U2", "text": "nice", "ts": "1709500120.000300"},
        {"type": "message", "user": "U1", "text": "see you", "ts": "1709500180.000400"},
    ]
    (root / "general" / "2024-03-03.json").write_text(json.dumps(day), encoding="utf-8")


def test_every_variant_route_is_closed(tmp_path):
    _telegram(tmp_path / "result.json")
    _slack(tmp_path / "slack")
    messages = tmp_path / "messages.jsonl"
    parse_exports([tmp_path / "result.json", tmp_path / "slack"], messages, ParseOptions(workers=1))
    manifest = build_dataset_json(
        messages,
        tmp_path / "ds",
        PrepConfig(
            target="Maya",
            exclude=["priya"],  # lower case and unaccented: finds "Príya" (Telegram) and "Priyaaa" (Slack)
            nicknames={"Priya": ["P-dog"]},
            valid_fraction=0,
            memory=MemoryConfig(enabled=True),
        ),
    )
    forbidden = [
        "priy",
        "príy",
        "sharma",
        "qx_handle",
        "quince",
        "p-dog",
        *ADDRESSES.values(),
        *EMAILS,
        *HANDLES,
        "pennsylvania",
        "baker street",
        "hauptstraße",
        "main st",
        "example [dot]",
        "(at)",
    ]
    outputs = sorted((tmp_path / "ds").iterdir())
    assert "memory.sqlite" in {f.name for f in outputs}
    for f in outputs:
        content = f.read_bytes().decode("utf-8", "replace").casefold()
        leaked = [w for w in forbidden if w.casefold() in content]
        assert not leaked, f"{f.name} holds {leaked}"
        assert not re.search(r"\bpri\b", content), f"{f.name} holds the nickname"
    assert manifest["messages"]["skipped"]["excluded"] == 2  # her own messages in both apps
    for kind in ("address", "email", "handle", "person", "quote"):
        assert manifest["redaction"][kind] > 0, kind
    assert manifest["redaction"]["address"] >= len(ADDRESSES)
    train = (tmp_path / "ds/train.jsonl").read_text(encoding="utf-8")
    assert "<person> is late again lol" in train  # the rest of the message is kept
    assert "<quote> haha" in train
    assert "ok fine" in train
