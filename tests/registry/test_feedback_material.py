"""Feedback in the store (per version, only on the clone's messages, only with consent, gone with consent), the
terminal's feedback commands, and the learning material built from it: corrections as targets and preference pairs,
the clone's own replies never targets, excluded people left out, a replay sample, the frozen validation split."""

import json

import pytest

from clonekit.bot.store import ConversationStore
from clonekit.bot.terminal import feedback_command, read_script
from clonekit.config import PrepConfig
from clonekit.errors import ClonekitError
from clonekit.learn.material import build_material

SYSTEM = "You are Maya, chatting with friends in a group chat."


@pytest.fixture
def store(tmp_path):
    s = ConversationStore(tmp_path / "store.db", platform="terminal")
    s.set_consent("c1", True, "admin")
    s.record("c1", "Sam", "u1", "anyone up for pizza?")
    s.record("c1", "Jordan", "u9", "Jordan here, call me on 555")
    s.record("c1", "Maya", "clone", "lol", is_clone=True, version="v1-aaaa", platform_id="m3")
    s.record("c1", "Oliver", "u2", "what time?")
    s.record("c1", "Maya", "clone", "lol lol", is_clone=True, version="v1-aaaa", platform_id="m5")
    yield s
    s.close()


def test_feedback_goes_on_the_clones_messages_only_and_keeps_the_version(store):
    fb = store.add_feedback("c1", "correction", "Sam", "u1", "8 works for me!", platform_id="m5")
    assert fb["version"] == "v1-aaaa"
    store.add_feedback("c1", "down", "Oliver", "u2")  # no id: the clone's latest message
    store.record("c1", "Sam", "u1", "a human message", platform_id="m6")
    with pytest.raises(ClonekitError, match="not the clone's"):
        store.add_feedback("c1", "up", "Oliver", "u2", platform_id="m6")
    with pytest.raises(ClonekitError, match="not the clone's"):
        store.add_feedback("c1", "up", "Oliver", "u2", platform_id="nope")
    with pytest.raises(ClonekitError, match="no consent"):
        store.add_feedback("c2", "up", "Oliver", "u2")
    with pytest.raises(ClonekitError, match="needs the text"):
        store.add_feedback("c1", "correction", "Oliver", "u2", " ")
    rows = store.feedback()
    assert [r["kind"] for r in rows] == ["correction", "down"]
    assert rows[0]["reply"] == "lol lol"
    assert rows[0]["context"][-1] == ("Oliver", "what time?", False)
    assert ("Maya", "lol", True) in rows[0]["context"]
    store.set_consent("c1", False, "Sam")
    assert store.feedback() == []
    assert store.db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 0


def test_material_corrections_pairs_replay_and_exclusions(store, tmp_path):
    store.add_feedback("c1", "correction", "Sam", "u1", "8 works, mail me at maya@example.com", platform_id="m5")
    store.add_feedback("c1", "up", "Oliver", "u2", platform_id="m3")
    original = tmp_path / "orig"
    original.mkdir()
    rows = [
        {
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "name": "Sam", "content": f"hi {i}"},
                {"role": "assistant", "name": "Maya", "content": f"hey {i}", "weight": 1},
            ]
        }
        for i in range(10)
    ]
    (original / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (original / "valid.jsonl").write_text(json.dumps(rows[0]) + "\n")
    messages = tmp_path / "messages.jsonl"
    store.export_messages(messages)
    cfg = PrepConfig(target="Maya", exclude=["Jordan"], persona={"system_prompt": SYSTEM})
    manifest = build_material(
        messages, store.feedback(), original, tmp_path / "m", cfg, replay_ratio=3, log=lambda s: None
    )
    assert manifest.counts == {"chat_examples": 0, "corrections": 1, "pairs": 1, "replay": 3, "reactions": 1}
    train = [json.loads(x) for x in (tmp_path / "m" / "train.jsonl").read_text().splitlines()]
    assert len(train) == 4
    corrected = next(r for r in train if r["messages"][-1]["content"].startswith("8 works"))
    last = corrected["messages"][-1]
    assert last == {"role": "assistant", "name": "Maya", "content": "8 works, mail me at <email>", "weight": 1}
    clone_turns = [m for m in corrected["messages"][:-1] if m["role"] == "assistant"]
    assert clone_turns
    assert all(m["weight"] == 0 for m in clone_turns)  # the clone's own replies are never targets
    assert "Jordan" not in json.dumps(corrected)  # an excluded person leaves no trace
    assert corrected["messages"][0] == {"role": "system", "content": SYSTEM}
    pair = json.loads((tmp_path / "m" / "pairs.jsonl").read_text())
    assert pair["chosen"] == "8 works, mail me at <email>"
    assert pair["rejected"] == "lol lol"
    assert pair["context"][-1]["role"] == "user"
    assert (tmp_path / "m" / "valid.jsonl").read_bytes() == (original / "valid.jsonl").read_bytes()


def test_material_needs_something_new(store, tmp_path):
    original = tmp_path / "orig"
    original.mkdir()
    (original / "train.jsonl").write_text("")
    (original / "valid.jsonl").write_text("")
    with pytest.raises(ClonekitError, match="no new material"):
        build_material(None, [], original, tmp_path / "m", PrepConfig(target="Maya"), log=lambda s: None)


def test_terminal_script_feedback_commands(tmp_path):
    script = tmp_path / "s.txt"
    script.write_text("Sam: hi\n\n/correct hey you\n/good\n")
    assert read_script(script) == [("Sam", "hi"), None, ("/", "/correct hey you"), ("/", "/good")]
    assert feedback_command("/correct  i'm in ") == ("correction", "i'm in")
    assert feedback_command("/bad") == ("down", None)
    assert feedback_command("hello /good") is None
