"""The audit log's hash chain catches every edit, deletion, reordering and truncation; a broken log is never
extended."""

import json
from itertools import pairwise

import pytest

from clonekit.audit import AuditLog
from clonekit.errors import ClonekitError


@pytest.fixture
def log(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    for i in range(5):
        log.append("feedback", reason=f"event {i}", actor="tester", version="v1-abc", kind="up", n=i)
    return log


def lines(log):
    return log.path.read_text(encoding="utf-8").splitlines()


def write(log, rows):
    log.path.write_text("".join(r + "\n" for r in rows), encoding="utf-8")


def test_an_intact_log_verifies_and_chains(log):
    assert log.verify() == []
    records = log.records()
    assert [r["seq"] for r in records] == [0, 1, 2, 3, 4]
    assert all(b["prev"] == a["hash"] for a, b in pairwise(records))
    assert records[2]["actor"] == "tester"
    assert records[2]["reason"] == "event 2"
    assert records[2]["time"].endswith("+00:00")


def test_an_edited_field_is_caught(log):
    rows = lines(log)
    rows[2] = rows[2].replace('"event 2"', '"event two"')
    write(log, rows)
    problems = log.verify()
    assert [p.line for p in problems] == [3]
    assert "edited" in problems[0].problem


def test_an_edit_that_also_fixes_its_own_hash_breaks_the_next_link(log):
    from clonekit.audit import canonical, record_hash

    rows = lines(log)
    record = json.loads(rows[1])
    record["actor"] = "someone else"
    record["hash"] = record_hash(record)
    rows[1] = canonical(record)
    write(log, rows)
    problems = log.verify()
    assert problems
    assert problems[0].line == 3
    assert "prev hash" in problems[0].problem


@pytest.mark.parametrize("damage", ["delete_middle", "swap", "truncate_end", "delete_head_file", "append_by_hand"])
def test_deletions_reordering_and_truncation_are_caught(log, damage):
    rows = lines(log)
    if damage == "delete_middle":
        del rows[2]
    elif damage == "swap":
        rows[1], rows[2] = rows[2], rows[1]
    elif damage == "truncate_end":
        rows = rows[:-1]
    elif damage == "append_by_hand":
        rows.append(rows[-1])
    if damage == "delete_head_file":
        log.head_path.unlink()
    else:
        write(log, rows)
    assert log.verify(), damage


def test_a_broken_log_is_never_extended(log):
    write(log, lines(log)[:-1])
    before = log.path.read_bytes()
    with pytest.raises(ClonekitError, match="audit log is broken"):
        log.append("feedback", reason="more", actor="x")
    assert log.path.read_bytes() == before


def test_every_event_needs_a_reason(tmp_path):
    with pytest.raises(ClonekitError, match="reason"):
        AuditLog(tmp_path / "a.jsonl").append("approved", reason=" ", actor="x")
