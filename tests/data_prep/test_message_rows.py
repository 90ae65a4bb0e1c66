"""messages.jsonl read in blocks by msgspec (data_prep/message_rows.py): the same rows, line numbers and errors as
the per-line path, across block boundaries, blank lines and values msgspec's types refuse."""

from __future__ import annotations

import json

import pytest

from clonekit.data_prep import message_rows
from clonekit.data_prep.message_rows import read_rows
from clonekit.errors import ClonekitError


def _line(i: int, **extra) -> str:
    m = {
        "platform": "whatsapp",
        "chat": "c",
        "id": str(i),
        "timestamp": f"2024-01-01T10:{i % 60:02d}:00",
        "author": "Maya",
        "author_id": "whatsapp:Maya",
        "text": f"hi {i}",
        "kind": "text",
    }
    return json.dumps(m | extra)


def _read(path):
    out = []
    for first, rows in read_rows(path, 0, path.stat().st_size, 1, "clonekit messages"):
        out.append((first, [(r.text, r.forwarded, r.is_bot) for r in rows]))
    return out


def test_blocks_blank_lines_and_truthy_flags_read_as_the_per_line_path(tmp_path, monkeypatch):
    monkeypatch.setattr(message_rows, "BLOCK_BYTES", 600)  # a few lines a block
    lines = [_line(i) for i in range(40)]
    lines[7] = _line(7, forwarded="yes")  # any truthy value counted as forwarded, as before (msgspec wants a bool)
    lines[12] = ""  # a blank line: skipped, and the lines after it keep their numbers
    lines[20] = _line(20, is_bot=1, extra_field={"a": [1]})
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(lines) + "\n")
    blocks = _read(path)
    rows = [r for _, b in blocks for r in b]
    assert [r[0] for r in rows] == [f"hi {i}" for i in range(40) if i != 12]
    assert rows[7][1] is True
    assert rows[19][2] is True
    firsts = [first for first, _ in blocks]
    assert firsts[0] == 1
    assert len(blocks) > 5


@pytest.mark.parametrize(
    "bad,needle",
    [
        ('{"platform": "whatsapp"}', "field 'chat' must be a string"),
        ("[1]", "not a JSON object"),
        ("{oops", "not JSON"),
        (_line(0, timestamp="yesterday"), "not an ISO 8601 time"),
        (_line(0, kind="sticker"), "field 'kind' must be one of"),
    ],
)
def test_a_bad_line_in_a_later_block_is_named_by_its_line(tmp_path, monkeypatch, bad, needle):
    monkeypatch.setattr(message_rows, "BLOCK_BYTES", 500)
    lines = [_line(i) for i in range(30)]
    lines[23] = bad
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ClonekitError, match=needle) as e:
        _read(path)
    assert e.value.line == 24


def test_a_bad_line_in_the_second_part_of_a_parallel_scan_has_its_line_in_the_file(tmp_path, monkeypatch):
    """scan_people's parts number their lines from 1 (no count of the lines up front); the error says the line in
    the whole file."""
    from clonekit.data_prep import people

    monkeypatch.setattr(people, "PARALLEL_MIN_BYTES", 1)
    lines = [_line(i) for i in range(400)]
    lines[333] = '{"platform": 7}'
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ClonekitError, match="field 'platform' must be a string") as e:
        people.scan_people(path, workers=2)
    assert e.value.line == 334
