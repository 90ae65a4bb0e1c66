"""The people index `prep parse` leaves beside a large WhatsApp file (data_prep/people_index.py): the same people
as `scan_people` reading the file, in the same order; ignored as soon as the file is not the one it describes."""

from __future__ import annotations

import json
import random

import pytest

from clonekit.config import PrepConfig
from clonekit.data_prep import people, whatsapp_kernel, whatsapp_parallel
from clonekit.data_prep.build import build_datasets
from clonekit.data_prep.parse import ParseOptions, parse_exports
from clonekit.data_prep.people_index import index_path
from tests.data_prep.test_whatsapp_kernel import _messy_export

pytestmark = pytest.mark.skipif(whatsapp_kernel._kernel is None, reason="the kernel is not built")


def _scanned(path, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(people, "read_people_index", lambda _path: None)
        return people.scan_people(path)


def _same_people(a, b) -> None:
    assert list(a.persons) == list(b.persons)
    for pid, p in a.persons.items():
        q = b.persons[pid]
        assert (p.ids, p.names, list(p.kinds.items()), p.first, p.last) == (
            q.ids,
            q.names,
            list(q.kinds.items()),
            q.first,
            q.last,
        ), pid
        assert (p.platforms, p.chats, p.aka, p.is_bot) == (q.platforms, q.chats, q.aka, q.is_bot)
    assert (a.lines, a.chat_keys, a.in_time_order) == (b.lines, b.chat_keys, b.in_time_order)


def test_the_index_is_what_a_scan_of_the_file_finds(tmp_path, monkeypatch):
    """Messy exports out of time order (sorted by the parse), 12-hour clocks, media, deleted and system lines,
    authors written several ways: where the kernel wrote every block, the index's people are the scan's."""
    monkeypatch.setattr(whatsapp_parallel, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(whatsapp_parallel, "BLOCK_BYTES", 4096)
    rng = random.Random(21)
    indexed = 0
    for case in range(40):
        text, _ = _messy_export(rng, 600, other_digits=case % 4 == 0)
        export = tmp_path / f"WhatsApp Chat with case {case}.txt"
        export.write_text(text, encoding="utf-8")
        out = tmp_path / f"m{case}.jsonl"
        parse_exports([export], out, ParseOptions(workers=2))
        if not index_path(out).exists():
            continue  # a block the kernel handed to Python (a header with other digits): no index, a scan
        indexed += 1
        _same_people(people.scan_people(out), _scanned(out, monkeypatch))
    assert indexed >= 10


def test_an_edited_file_is_read_again(tmp_path, monkeypatch):
    monkeypatch.setattr(whatsapp_parallel, "PARALLEL_MIN_BYTES", 1)
    lines = [
        f"0{1 + i // 600}/03/2021, {i // 60 % 24:02d}:{i % 60:02d} - {'Maya' if i % 2 else 'Ali'}: hi {i}"
        for i in range(3000)
    ]
    export = tmp_path / "WhatsApp Chat with Edit.txt"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "m.jsonl"
    parse_exports([export], out, ParseOptions(workers=2))
    assert index_path(out).exists()
    assert set(people.scan_people(out).persons) == {"whatsapp:Maya", "whatsapp:Ali"}
    last = json.loads(out.read_text().splitlines()[-1])
    with open(out, "a", encoding="utf-8") as f:  # a hand-added line: the index no longer describes the file
        f.write(json.dumps(last | {"author": "Zed", "author_id": "whatsapp:Zed"}) + "\n")
    assert "whatsapp:Zed" in people.scan_people(out).persons


def test_a_build_with_the_index_writes_what_a_build_without_it_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(whatsapp_parallel, "PARALLEL_MIN_BYTES", 1)
    rng = random.Random(5)
    names = ["Maya", "Deniz", "Ali", "~ Sam"]
    lines = []
    minute = 0
    for i in range(4000):
        minute += rng.choice((0, 1, 2, 9, 240))
        day, rest = divmod(minute, 1440)
        lines.append(
            f"{1 + day % 28:02d}/{1 + day // 28:02d}/2021, {rest // 60:02d}:{rest % 60:02d} - "
            f"{rng.choice(names)}: {rng.choice(['lol', 'ok', 'see you', 'pizza?'])} {i}"
        )
    export = tmp_path / "WhatsApp Chat with Build.txt"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "m.jsonl"
    parse_exports([export], out, ParseOptions(workers=2))
    assert index_path(out).exists()
    cfg = PrepConfig(target="Deniz")
    build_datasets(out, tmp_path / "with", cfg)
    index_path(out).unlink()
    build_datasets(out, tmp_path / "without", cfg)
    for name in ("train.jsonl", "valid.jsonl", "openai_train.jsonl", "openai_valid.jsonl", "sessions.jsonl"):
        assert (tmp_path / "with" / name).read_bytes() == (tmp_path / "without" / name).read_bytes(), name
