"""One person with three names in three apps: `prep people` proposes the match, the config's `aliases` confirms
it, and the target, the exclusions and the manifest follow the person. Sessions never merge across apps."""

import json

from clonekit.config import PrepConfig
from clonekit.data_prep.parse import ParseOptions, parse_exports
from clonekit.data_prep.people import scan_people
from clonekit.data_prep.person_match import aliases_yaml, name_key, phone_key, propose_matches
from tests.helpers import build_dataset_json


def _exports(tmp_path):
    wa = tmp_path / "WhatsApp Chat with Crew.txt"
    wa.write_text(
        "14/01/2024, 21:05 - Maya: pizza tonight?\n"
        "14/01/2024, 21:06 - Deniz: yes! whatsapp deniz here\n"
        "14/01/2024, 21:07 - Maya: 8pm?\n"
        "14/01/2024, 21:08 - Deniz: perfect, see you\n"
        "14/01/2024, 21:09 - Priya: I'm out\n",
        encoding="utf-8",
    )

    def author(uid, name):
        return {"id": uid, "name": name, "nickname": name, "isBot": False}

    dc = tmp_path / "Friends - general [1].json"
    dc.write_text(
        json.dumps(
            {
                "guild": {"name": "Friends"},
                "channel": {"id": "1", "name": "general"},
                "messages": [
                    {
                        "id": "10",
                        "type": "Default",
                        "timestamp": "2024-01-14T21:05:00+00:00",
                        "content": "anyone on?",
                        "author": author("11", "oliver"),
                    },
                    {
                        "id": "11",
                        "type": "Default",
                        "timestamp": "2024-01-14T21:06:00+00:00",
                        "content": "discord deniz says hi",
                        "author": author("22", "deniz_k"),
                    },
                    {
                        "id": "12",
                        "type": "Default",
                        "timestamp": "2024-01-14T21:07:00+00:00",
                        "content": "gg",
                        "author": author("11", "oliver"),
                    },
                    {
                        "id": "13",
                        "type": "Default",
                        "timestamp": "2024-01-14T21:08:00+00:00",
                        "content": "rematch tomorrow",
                        "author": author("22", "deniz_k"),
                    },
                ],
            }
        ),
        encoding="utf-8",
    )
    tg = tmp_path / "result.json"
    tg.write_text(
        json.dumps(
            {
                "name": "Maya",
                "type": "personal_chat",
                "id": 5,
                "messages": [
                    {
                        "id": 1,
                        "type": "message",
                        "date": "2024-01-14T21:05:00",
                        "date_unixtime": "1705266300",
                        "from": "Maya",
                        "from_id": "user1",
                        "text": "coffee?",
                    },
                    {
                        "id": 2,
                        "type": "message",
                        "date": "2024-01-14T21:06:00",
                        "date_unixtime": "1705266360",
                        "from": "Deniz K.",
                        "from_id": "user2",
                        "text": "telegram deniz: always",
                    },
                    {
                        "id": 3,
                        "type": "message",
                        "date": "2024-01-14T21:07:00",
                        "date_unixtime": "1705266420",
                        "from": "Maya",
                        "from_id": "user1",
                        "text": "usual place",
                    },
                    {
                        "id": 4,
                        "type": "message",
                        "date": "2024-01-14T21:08:00",
                        "date_unixtime": "1705266480",
                        "from": "Deniz K.",
                        "from_id": "user2",
                        "text": "on my way",
                    },
                ],
            }
        ),
        encoding="utf-8",
    )
    out = tmp_path / "messages.jsonl"
    parse_exports([wa, dc, tg], out, ParseOptions(workers=1))
    return out


def test_name_keys_and_phones():
    assert name_key("Deniz K.") == name_key("deniz_k") == "denizk"
    assert name_key("Çelik") == "celik"
    assert phone_key("+1 (555) 123-4567") == phone_key("sms:+15551234567") == "+15551234567"
    assert phone_key("discord:700000000000000001") is None


def test_three_names_in_three_apps_make_one_target(tmp_path):
    messages = _exports(tmp_path)
    people = scan_people(messages)
    proposals = propose_matches(people)
    pairs = {frozenset((p.a.name, p.b.name)): p for p in proposals}
    assert pairs[frozenset(("deniz_k", "Deniz K."))].strength == "strong"  # same name, punctuation aside
    assert pairs[frozenset(("Deniz", "Deniz K."))].strength == "possible"  # first name and an initial
    assert not any({"Maya", "oliver"} <= set(k) for k in pairs)
    snippet = aliases_yaml(proposals)
    lines = snippet.splitlines()
    assert lines[0] == "aliases:"
    keys = [ln.split('": "')[0] for ln in lines[1:]]
    assert len(keys) == len(set(keys))  # each identity once: a YAML mapping has each key once
    assert '  "discord:22": "whatsapp:Deniz"  # possible: check' in lines  # grouped: one person, one canonical id
    assert '  "telegram:user2": "whatsapp:Deniz"  # possible: check' in lines

    cfg = PrepConfig(
        target="Deniz",
        aliases={"deniz_k": "Deniz", "Deniz K.": "Deniz"},
        exclude=["Priya"],
        valid_fraction=0.0,
    )
    manifest = build_dataset_json(messages, tmp_path / "ds", cfg)
    assert set(manifest["target_ids"]) == {"whatsapp:Deniz", "discord:22", "telegram:user2"}
    assert manifest["sources"] == {
        "discord": {"kept": 4, "target": 2},
        "telegram": {"kept": 4, "target": 2},
        "whatsapp": {"kept": 4, "target": 2},
    }
    said = []
    for line in (tmp_path / "ds" / "train.jsonl").read_text(encoding="utf-8").splitlines():
        for m in json.loads(line)["messages"]:
            if m["role"] == "assistant":
                assert m["name"] == "Deniz"  # one name for the person, whatever the app called them
                said.append(m["content"])
    for app in ("whatsapp", "discord", "telegram"):
        assert any(app in s for s in said), app
    sessions = [json.loads(x) for x in (tmp_path / "ds" / "sessions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(sessions) == 3  # same minute, three apps: three sessions, never one
    assert sorted(s["platform"] for s in sessions) == ["discord", "telegram", "whatsapp"]
    for path in (tmp_path / "ds").iterdir():
        assert b"Priya" not in path.read_bytes(), path.name
