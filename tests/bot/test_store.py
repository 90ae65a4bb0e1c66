"""The opt-in conversation store (a real SQLite file) feeds `prep build` for retraining."""

import json
import os
import sqlite3
import time

import pytest
from typer.testing import CliRunner

from clonekit.bot.store import ConversationStore
from clonekit.cli import app
from clonekit.config import PrepConfig
from clonekit.errors import ClonekitError
from tests.helpers import build_dataset_json


def test_consent_gates_logging_and_the_export_builds_a_dataset(tmp_path):
    db = ConversationStore(tmp_path / "c.sqlite")
    assert not db.record("general", "Maya", "1", "not logged: no consent yet")
    db.set_consent("general", True, "Maya (1)")
    lines = [
        ("Maya", "1", "anyone up for pizza lol", False),
        ("Deniz", "2", "ben varım abi", False),
        ("Deniz", "99", "tamam abi", True),
        ("Oliver", "3", "I could be persuaded.", False),
        ("Deniz", "2", "saat kaçta?", False),
    ]
    for i, (who, uid, text, clone) in enumerate(lines):
        assert db.record("general", who, uid, text, is_clone=clone, timestamp=f"2026-11-20T20:00:{i:02d}+00:00")
    db.set_consent("random", True, "Oliver (3)")
    db.record("random", "Oliver", "3", "other channel")
    assert db.set_consent("random", False, "Maya (1)") == 1  # revoking deletes what was logged there
    assert db.count() == 5
    assert not db.has_consent("random")
    assert db.export_messages(tmp_path / "messages.jsonl") == 5
    db.close()

    manifest = build_dataset_json(
        tmp_path / "messages.jsonl", tmp_path / "ds", PrepConfig(target="Deniz", valid_fraction=0.0)
    )
    assert manifest["messages"]["skipped"] == {"bot": 1}  # the clone's own reply never becomes a target turn
    rows = [json.loads(line) for line in (tmp_path / "ds" / "train.jsonl").read_text().splitlines()]
    assistant = [m["content"] for r in rows for m in r["messages"] if m["role"] == "assistant"]
    assert "tamam abi" not in " ".join(assistant)
    assert "saat kaçta?" in assistant


def test_conversations_command_lists_and_exports(tmp_path):
    from typer.testing import CliRunner

    from clonekit.cli import app

    db = ConversationStore(tmp_path / "c.sqlite")
    db.set_consent("123", True, "Maya (1)")
    db.record("123", "Maya", "1", "pizza?")
    db.set_consent("456", False, "Oliver (3)")
    db.close()
    r = CliRunner().invoke(app, ["conversations", str(tmp_path / "c.sqlite"), "-o", str(tmp_path / "m.jsonl")])
    assert r.exit_code == 0, r.output
    assert "123" in r.output
    assert "456" in r.output
    assert "wrote 1 messages" in r.output
    assert json.loads((tmp_path / "m.jsonl").read_text())["text"] == "pizza?"
    r = CliRunner().invoke(app, ["conversations", str(tmp_path / "missing.sqlite")])
    assert r.exit_code == 2
    assert "store not found" in r.output


def test_store_files_are_private_and_revoking_leaves_nothing_behind(tmp_path):
    import os
    import stat

    from clonekit.bot.store import ConversationStore

    path = tmp_path / "conv.sqlite"
    db = ConversationStore(path)
    db.set_consent("general", True, "admin")
    secret = "my very secret plan number 7731"
    for i in range(50):
        assert db.record("general", "Maya", "discord:1", f"{secret} {i}")
    for f in tmp_path.iterdir():
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, f
    assert db.set_consent("general", False, "Maya") == 50
    for f in tmp_path.iterdir():  # the database, its write-ahead log and shared memory file
        assert secret.encode() not in f.read_bytes(), f
    db.close()


def test_a_locked_store_never_blocks_the_caller_and_loses_nothing(tmp_path):
    store = ConversationStore(tmp_path / "c.sqlite")
    store.set_consent("ch", True, "mod")
    other = sqlite3.connect(tmp_path / "c.sqlite")
    other.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    started = time.perf_counter()
    for i in range(20):
        assert store.record_later("ch", "Maya", "1", f"message {i}")
    assert time.perf_counter() - started < 0.1  # handed to the writer thread, not waited for
    time.sleep(0.5)
    assert store.retries > 0
    assert store.written == 0
    other.rollback()
    other.close()
    store.flush()
    assert store.written == 20
    assert [m.text for m in store.messages("ch")] == [f"message {i}" for i in range(20)]
    store.close()


@pytest.mark.parametrize(
    "damage,message",
    [
        (lambda p: p.write_bytes(b"this is not a database at all" * 100), "damaged"),
        (lambda p: (p.write_bytes(b""), p.chmod(0o400), p.parent.chmod(0o500)), "cannot be written|cannot open"),
        (lambda p: p.mkdir(), "is a folder"),
    ],
)
def test_a_corrupt_or_read_only_store_is_one_clear_error(tmp_path, damage, message):
    if os.geteuid() == 0 and "written" in message:
        pytest.skip("root writes read-only files")
    path = tmp_path / "s" / "c.sqlite"
    path.parent.mkdir()
    damage(path)
    try:
        with pytest.raises(ClonekitError, match=message):
            ConversationStore(path)
        r = CliRunner().invoke(app, ["conversations", str(path)])
        assert r.exit_code != 0, r.output
        assert isinstance(r.exception, SystemExit), r.output  # a user error, not a crash
        assert "Traceback" not in r.output
        assert "c.sqlite" in r.output
    finally:
        path.parent.chmod(0o700)
