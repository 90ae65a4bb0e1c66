"""Crafted leak routes, through the real parsers and `prep build`: an excluded person's words, names, handles,
forwards and chat names, a phone-number speaker, and every personal-data format must appear in no output file."""

import json

from clonekit.config import MemoryConfig, PrepConfig
from clonekit.data_prep.parse import ParseOptions, parse_exports
from tests.helpers import build_dataset_json

PII = {
    "card": "4111 1111 1111 1111",
    "iban": "DE89 3704 0044 0532 0130 00",
    "ssn": "123-45-6789",
    "ipv4": "192.168.10.20",
    "ipv6": "2001:db8::8a2e:370:7334",
    "link": "example.com/secret",
    "tme": "t.me/joinchat/AbCdEf",
    "invite": "discord.gg/xyz789",
    "short": "bit.ly/3AbCdE",
    "ftp": "ftp://files.example.org/x.zip",
    "email": "priya.s@example.com",
    "phone": "+44 7700 900123",
}
SECRET = "the quince jam recipe"  # only ever written by the excluded person (directly or forwarded)


def _telegram(path):
    msgs = []

    def add(frm, from_id, text, **extra):
        msgs.append(
            {
                "id": len(msgs) + 1,
                "type": "message",
                "date": f"2024-03-01T20:{len(msgs):02d}:00",
                "from": frm,
                "from_id": from_id,
                "text": text,
                **extra,
            }
        )

    add("Priya", "user7", f"hi all, {SECRET}")
    add("Maya", "user1", "hey priya! and PRIYA too")
    add("Priya Sharma", "user7", "new name, same me")  # the same identity under a second display name
    add("Maya", "user1", "ask Sharma or @priya_s about it")
    add("Oliver", "user2", SECRET + " (forwarded)", forwarded_from="Priya Sharma")
    add("Maya", "user1", "my details: " + ", ".join(PII.values()))
    add("Oliver", "user2", "lol ok")
    add("Maya", "user1", "see you soon")
    path.write_text(
        json.dumps({"name": "Priya's birthday", "type": "private_group", "id": 5, "messages": msgs}), encoding="utf-8"
    )


def _discord(path):
    msgs = []

    def add(author, text, **extra):
        msgs.append(
            {
                "id": str(9000 + len(msgs)),
                "type": "Default",
                "timestamp": f"2024-03-02T20:{len(msgs):02d}:00+00:00",
                "content": text,
                "author": author,
                **extra,
            }
        )

    priya = {"id": "42", "name": "qx_handle", "nickname": "Priya", "isBot": False}
    maya = {"id": "41", "name": "maya_m", "nickname": "Maya", "isBot": False}
    add(priya, f"{SECRET}, again")
    add(maya, "thanks @qx_handle")
    add(maya, "", reference={"type": "Forward", "messageId": "9000"})
    add(maya, SECRET, isForwarded=True)
    add({"id": "43", "name": "oliver", "isBot": False}, "nice")
    add(maya, "yes")
    path.write_text(
        json.dumps({"guild": {"name": "Friends"}, "channel": {"name": "priya-fans"}, "messages": msgs}),
        encoding="utf-8",
    )


def _whatsapp(path):
    path.write_text(
        "01/03/2024, 21:00 - Maya: who has the number?\n"
        "01/03/2024, 21:01 - +44 7700 900123: me, new phone\n"
        "01/03/2024, 21:02 - Maya: great\n"
        "01/03/2024, 21:03 - +44 7700 900123: cool\n",
        encoding="utf-8",
    )


def test_no_trace_of_an_excluded_person_or_personal_data(tmp_path):
    _telegram(tmp_path / "result.json")
    _discord(tmp_path / "Friends - priya-fans [1].json")
    _whatsapp(tmp_path / "WhatsApp Chat with Priya.txt")
    messages = tmp_path / "priya-chat" / "messages.jsonl"  # the user named the folder after her: the manifest may not
    parse_exports(
        [
            tmp_path / "result.json",
            tmp_path / "Friends - priya-fans [1].json",
            tmp_path / "WhatsApp Chat with Priya.txt",
        ],
        messages,
        ParseOptions(workers=1),
    )
    manifest = build_dataset_json(
        messages,
        tmp_path / "ds",
        PrepConfig(
            target="Maya",
            exclude=["Priya"],
            valid_fraction=0,
            aliases={"Priya Sharma": "Priya"},
            memory=MemoryConfig(enabled=True),  # memory (store and index in one SQLite file) obeys the same rules
        ),
    )
    forbidden = ["priya", "sharma", "qx_handle", "quince", *PII.values(), "7700", "900123"]
    outputs = sorted((tmp_path / "ds").iterdir())
    assert {f.name for f in outputs} >= {
        "train.jsonl",
        "sessions.jsonl",
        "manifest.json",
        "openai_names.json",
        "memory.sqlite",
    }
    assert manifest["memory"]["snippets"] > 0
    for f in outputs:
        content = f.read_bytes().decode("utf-8", "replace").casefold()
        leaked = [w for w in forbidden if w.casefold() in content]
        assert not leaked, f"{f.name} holds {leaked}"
    train = (tmp_path / "ds/train.jsonl").read_text(encoding="utf-8")
    for placeholder in ("<card>", "<iban>", "<ssn>", "<ip>", "<url>", "<email>", "<phone>", "<person>"):
        assert placeholder in train
    sessions = [json.loads(line) for line in (tmp_path / "ds/sessions.jsonl").read_text(encoding="utf-8").splitlines()]
    names = {t["name"] for s in sessions for t in s["turns"]}
    assert "Contact 1" in names
    assert not any("7700" in n for n in names)
    assert (
        manifest["messages"]["skipped"]["forwarded"] == 2
    )  # Telegram forwarded_from, Discord isForwarded (the empty Forward: "empty" at parse)
    assert manifest["config"]["exclude"] == ["<excluded>"]
    assert manifest["config"]["aliases"] == {}
    assert all(manifest["redaction"][k] > 0 for k in ("card", "iban", "ssn", "ip", "url", "email", "phone", "person"))
    # an alias written with the number: the manifest keeps neither the number nor the alias
    aliased = build_dataset_json(
        messages,
        tmp_path / "ds2",
        PrepConfig(
            target="+44 7700 900123",
            exclude=["Priya"],
            valid_fraction=0,
            aliases={"+44 7700 900123": "whatsapp:+44 7700 900123"},
        ),
    )
    text = (tmp_path / "ds2/manifest.json").read_text(encoding="utf-8")
    assert "7700" not in text
    assert aliased["target"] == "Contact 1"
    assert aliased["target_ids"] == ["whatsapp:Contact 1"]
