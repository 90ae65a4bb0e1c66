import json

import pytest

from clonekit.chat import NameSanitizer, Turn
from clonekit.config import PrepConfig
from clonekit.data_prep.openai_format import validate_openai_example
from clonekit.data_prep.parse import parse_exports
from clonekit.data_prep.sessions import windows
from clonekit.errors import ClonekitError
from clonekit.samples.exports import write_sample
from tests.helpers import build_dataset_json


def write_messages(path, rows):
    """rows: (minute, author, text[, kind])"""
    with open(path, "w", encoding="utf-8") as f:
        for i, row in enumerate(rows):
            minute, author, text, *kind = row
            f.write(
                json.dumps(
                    {
                        "platform": "whatsapp",
                        "chat": "c",
                        "id": str(i),
                        "timestamp": f"2024-01-01T{10 + minute // 60:02d}:{minute % 60:02d}:00",
                        "author": author,
                        "author_id": f"whatsapp:{author}",
                        "text": text,
                        "kind": kind[0] if kind else "text",
                        "reply_to": None,
                        "edited": False,
                        "forwarded": False,
                        "is_bot": author == "Bot",
                    }
                )
                + "\n"
            )
    return path


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def sample_messages(tmp_path_factory):
    d = tmp_path_factory.mktemp("sample")
    info = write_sample(d, corpus="small")
    out = d / "messages.jsonl"
    parse_exports([d / info["files"]["whatsapp"]], out)
    return out


def test_sessions_turns_names_and_weights(tmp_path):
    msgs = write_messages(
        tmp_path / "m.jsonl",
        [
            (0, "Deniz", "opening line"),  # target first: no context, weight 0
            (1, "Maya", "hi lol"),
            (1, "Maya", "anyone there"),  # merged with the line before
            (2, "Deniz", "buradayım abi"),
            (3, "Bot", "beep"),  # bot: skipped
            (3, "Oliver", "Good evening."),
            (4, "Priya", "", "media"),
            (5, "Deniz", "tamam"),
            (30, "Maya", "new session after a gap"),
            (31, "Deniz", "evet"),
        ],
    )
    m = build_dataset_json(msgs, tmp_path / "ds", PrepConfig(target="Deniz", valid_fraction=0.5))
    assert m["messages"]["skipped"] == {"bot": 1}
    assert m["messages"]["kept"] == 9
    assert m["sessions"] == {"total": 2, "without_target": 0, "train": 1, "valid": 1}
    train, valid = read_jsonl(tmp_path / "ds/train.jsonl"), read_jsonl(tmp_path / "ds/valid.jsonl")
    turns = train[0]["messages"]
    assert turns[0]["role"] == "system"
    assert "Deniz" in turns[0]["content"]
    assert [(t["role"], t.get("name"), t["content"], t.get("weight")) for t in turns[1:]] == [
        ("assistant", "Deniz", "opening line", 0),
        ("user", "Maya", "hi lol\nanyone there", None),
        ("assistant", "Deniz", "buradayım abi", 1),
        ("user", "Oliver", "Good evening.", None),
        ("user", "Priya", "<media>", None),
        ("assistant", "Deniz", "tamam", 1),
    ]
    assert [t["content"] for t in valid[0]["messages"][1:]] == ["new session after a gap", "evet"]
    sessions = read_jsonl(tmp_path / "ds/sessions.jsonl")
    assert [s["split"] for s in sessions] == ["train", "valid"]


def test_gap_is_configurable(tmp_path):
    msgs = write_messages(
        tmp_path / "m.jsonl", [(0, "Maya", "a"), (1, "Deniz", "b"), (10, "Maya", "c"), (11, "Deniz", "d")]
    )
    assert build_dataset_json(msgs, tmp_path / "a", PrepConfig(target="Deniz"))["sessions"]["total"] == 2
    assert (
        build_dataset_json(msgs, tmp_path / "b", PrepConfig(target="Deniz", session_gap_minutes=15))["sessions"][
            "total"
        ]
        == 1
    )


def test_windows_train_every_target_turn_with_context_once():
    turns = [Turn("T" if i % 3 == 0 else f"U{i}", i % 3 == 0, [f"m{i}"]) for i in range(50)]
    cut = windows(turns, max_turns=8, max_chars=10_000, context_turns=3)
    weighted = [s + i for s, e, w in cut for i, x in enumerate(w) if x]
    assert sorted(weighted) == [i for i in range(1, 50) if i % 3 == 0]  # turn 0 has no context
    assert all(e - s <= 8 for s, e, _ in cut)
    for _s, e, w in cut:
        assert turns[e - 1].is_target
        assert w[-1] == 1


def test_windows_respect_max_chars():
    turns = [Turn("T" if i % 2 else "U", bool(i % 2), ["x" * 100]) for i in range(40)]
    for s, e, _ in windows(turns, max_turns=100, max_chars=1000, context_turns=4):
        assert sum(len(t.text) for t in turns[s:e]) <= 1000


def test_validation_is_the_latest_sessions_without_leakage(sample_messages, tmp_path):
    build_dataset_json(sample_messages, tmp_path / "ds", PrepConfig(target="Deniz", valid_fraction=0.2))
    sessions = read_jsonl(tmp_path / "ds/sessions.jsonl")
    train_starts = [s["start"] for s in sessions if s["split"] == "train"]
    valid_starts = [s["start"] for s in sessions if s["split"] == "valid"]
    assert valid_starts
    assert max(train_starts) <= min(valid_starts)
    keys = [(s["chat"], s["start"]) for s in sessions]
    assert len(keys) == len(set(keys))  # each session once, in exactly one split
    manifest = json.loads((tmp_path / "ds/manifest.json").read_text())
    assert len(read_jsonl(tmp_path / "ds/valid.jsonl")) == manifest["examples"]["valid"] > 0
    assert manifest["sessions"]["valid"] == len(valid_starts)
    assert manifest["split"]["valid_from"] is not None


def test_excluded_person_appears_in_no_output_file(sample_messages, tmp_path):
    m = build_dataset_json(sample_messages, tmp_path / "ds", PrepConfig(target="Deniz", exclude=["Priya"]))
    assert m["messages"]["skipped"]["excluded"] > 0
    priya_texts = [
        json.loads(line)["text"]
        for line in sample_messages.read_text(encoding="utf-8").splitlines()
        if json.loads(line)["author"] == "Priya" and json.loads(line)["kind"] == "text"
    ]
    distinctive = {t for t in priya_texts if len(t) > 12}
    assert distinctive
    for f in (tmp_path / "ds").iterdir():
        content = f.read_text(encoding="utf-8")
        assert "Priya" not in content, f.name
        assert not any(t in content for t in distinctive), f.name


def test_redaction_placeholders_and_counts(tmp_path):
    msgs = write_messages(
        tmp_path / "m.jsonl",
        [
            (0, "Maya", "mail me at maya@example.com or call +44 7700 900123"),
            (1, "Deniz", "link: https://example.com/x?id=1 and card 4111111111111111"),
        ],
    )
    m = build_dataset_json(msgs, tmp_path / "ds", PrepConfig(target="Deniz", valid_fraction=0))
    text = (tmp_path / "ds/train.jsonl").read_text(encoding="utf-8")
    assert "mail me at <email> or call <phone>" in text
    assert "link: <url> and card <card>" in text
    assert m["redaction"] == {
        "url": 1,
        "email": 1,
        "ip": 0,
        "iban": 0,
        "card": 1,
        "ssn": 0,
        "phone": 1,
        "number": 0,
        "address": 0,
        "handle": 0,
        "person": 0,
        "quote": 0,
    }  # every type, found or not
    off = build_dataset_json(
        msgs,
        tmp_path / "ds2",
        PrepConfig(
            target="Deniz",
            valid_fraction=0,
            redact={"emails": False, "phones": False, "ids": False, "urls": False, "numbers": False},
        ),
    )
    assert not any(off["redaction"].values())
    assert "maya@example.com" in (tmp_path / "ds2/train.jsonl").read_text(encoding="utf-8")


def test_media_drop_mode(tmp_path):
    msgs = write_messages(tmp_path / "m.jsonl", [(0, "Maya", "", "media"), (1, "Maya", "hey"), (2, "Deniz", "yo")])
    m = build_dataset_json(msgs, tmp_path / "ds", PrepConfig(target="Deniz", media="drop", valid_fraction=0))
    assert m["messages"]["skipped"] == {"media": 1}
    assert "<media>" not in (tmp_path / "ds/train.jsonl").read_text()


def test_openai_files_pass_the_format_checks(sample_messages, tmp_path):
    m = build_dataset_json(sample_messages, tmp_path / "ds", PrepConfig(target="Deniz"))
    for name in ("openai_train.jsonl", "openai_valid.jsonl"):
        examples = read_jsonl(tmp_path / "ds" / name)
        assert examples
        for ex in examples:
            assert validate_openai_example(ex) == []
            assert any(msg.get("weight") == 1 for msg in ex["messages"] if msg["role"] == "assistant")
    assert m["openai"]["train"] == m["examples"]["train"]


@pytest.mark.parametrize(
    ("example", "problem"),
    [
        ({"messages": []}, "missing messages list"),
        ({"messages": [{"role": "assistant", "content": "x"}], "extra": 1}, "unexpected top-level keys ['extra']"),
        ({"messages": [{"role": "assistant"}]}, "message missing role or content"),
        ({"messages": [{"role": "assistant", "content": "x", "mood": "ok"}]}, "unrecognized key"),
        ({"messages": [{"role": "bot", "content": "x"}, {"role": "assistant", "content": "y"}]}, "unrecognized role"),
        ({"messages": [{"role": "assistant", "content": 3}]}, "content is not a string"),
        ({"messages": [{"role": "user", "name": "Ma ya", "content": "x"}]}, "name 'Ma ya' does not match"),
        ({"messages": [{"role": "user", "content": "x", "weight": 1}]}, "weight must be 0 or 1"),
        ({"messages": [{"role": "assistant", "content": "x", "weight": 2}]}, "weight must be 0 or 1"),
        ({"messages": [{"role": "user", "content": "x"}]}, "no assistant message"),
    ],
)
def test_the_openai_checks_name_each_problem(example, problem):
    problems = validate_openai_example(example)
    assert any(problem in p for p in problems), problems


def test_openai_long_examples_are_split_or_dropped(tmp_path):
    long = "word " * 400
    msgs = write_messages(tmp_path / "m.jsonl", [(i, "Deniz" if i % 2 else "Maya", long) for i in range(8)])
    m = build_dataset_json(
        msgs,
        tmp_path / "ds",
        PrepConfig(
            target="Deniz", valid_fraction=0, max_chars=50_000, openai={"max_tokens": 2000, "chars_per_token": 3.0}
        ),
    )
    assert m["openai"]["split_too_long"] >= 1
    parts = read_jsonl(tmp_path / "ds/openai_train.jsonl")
    assert len(parts) > m["examples"]["train"]
    for ex in parts:
        assert validate_openai_example(ex) == []
        assert sum(len(x["content"]) for x in ex["messages"]) / 3 <= 2000
    one_huge = write_messages(tmp_path / "h.jsonl", [(0, "Maya", "hi"), (1, "Deniz", "x" * 9000)])
    m = build_dataset_json(
        one_huge,
        tmp_path / "ds2",
        PrepConfig(target="Deniz", valid_fraction=0, openai={"max_tokens": 2000, "chars_per_token": 3.0}),
    )
    assert m["openai"]["dropped_too_long"] == 1
    assert m["openai"]["train"] == 0
    assert m["examples"]["train"] == 1


def test_name_sanitizer():
    s = NameSanitizer()
    assert s("Deniz Işık") == "Deniz_Isik"
    assert s("Ömer Çelik") == "Omer_Celik"
    assert s("Deniz Işık") == "Deniz_Isik"
    assert s("Deniz-Isik") == "Deniz-Isik"
    assert s("Deniz_Isik!") == "Deniz_Isik_2"
    assert s("🙂") == "user"


def test_aliases_merge_identities_and_target_by_any_name(tmp_path):
    msgs = write_messages(
        tmp_path / "m.jsonl", [(0, "Maya", "a"), (1, "deniz_k", "b"), (2, "Maya", "c"), (3, "Deniz", "d")]
    )
    m = build_dataset_json(
        msgs, tmp_path / "ds", PrepConfig(target="Deniz", aliases={"deniz_k": "Deniz"}, valid_fraction=0)
    )
    assert m["target_ids"] == ["whatsapp:Deniz", "whatsapp:deniz_k"]
    assert m["examples"]["target_turns_train"] == 2


@pytest.mark.parametrize(
    "cfg,needle",
    [
        ({"target": "Nobody"}, "matches nobody"),
        ({"target": "Deniz", "exclude": ["Deniz"]}, "also excluded"),
        ({"target": "Deniz", "exclude": ["Zed"]}, "matches nobody"),
        ({"target": "Maya"}, "no examples"),
    ],
)
def test_build_errors(tmp_path, cfg, needle):
    msgs = write_messages(tmp_path / "m.jsonl", [(0, "Maya", "alone"), (10, "Deniz", "x")])
    with pytest.raises(ClonekitError, match=needle):
        build_dataset_json(msgs, tmp_path / "ds", PrepConfig(**cfg))


def test_system_prompt_from_persona(tmp_path):
    msgs = write_messages(tmp_path / "m.jsonl", [(0, "Maya", "a"), (1, "Deniz", "b")])
    m = build_dataset_json(
        msgs,
        tmp_path / "ds",
        PrepConfig(target="Deniz", valid_fraction=0, persona={"facts": ["lives in Istanbul"], "style": "short"}),
    )
    assert "lives in Istanbul" in m["system_prompt"]
    assert "short" in m["system_prompt"]
    assert len(m["system_prompt"]) < 300


@pytest.mark.parametrize(
    "line,needle",
    [("{not json", "not JSON"), ('{"text": "hi"}', "not a clonekit message"), ("[1, 2]", "not a JSON object")],
)
def test_malformed_messages_file_names_the_line(tmp_path, line, needle):
    msgs = write_messages(tmp_path / "m.jsonl", [(0, "Maya", "a"), (1, "Deniz", "b")])
    with open(msgs, "a", encoding="utf-8") as f:
        f.write(line + "\n")
    with pytest.raises(ClonekitError, match=needle) as e:
        build_dataset_json(msgs, tmp_path / "ds", PrepConfig(target="Deniz"))
    assert e.value.line == 3


def test_repeated_target_turns_keep_only_their_end_of_turn_loss(tmp_path):
    rows = []
    for k in range(6):  # six sessions, the target says "lol same" in each, plus something new
        rows += [
            (k * 60, "Maya", f"question {k}?"),
            (k * 60 + 1, "Deniz", "lol same"),
            (k * 60 + 2, "Maya", f"and {k}?"),
            (k * 60 + 3, "Deniz", f"fresh reply number {k}"),
        ]
    msgs = write_messages(tmp_path / "m.jsonl", rows)
    m = build_dataset_json(msgs, tmp_path / "ds", PrepConfig(target="Deniz", valid_fraction=0, dedupe_max_copies=2))
    assert m["dedupe"]["end_only_turns"] == 4
    assert m["dedupe"]["max_copies"] == 2
    turns = [t for ex in read_jsonl(tmp_path / "ds/train.jsonl") for t in ex["messages"] if t["role"] == "assistant"]
    same = [(t["weight"], t.get("end_weight")) for t in turns if t["content"] == "lol same"]
    assert same == [(1, None), (1, None), (0, 1), (0, 1), (0, 1), (0, 1)]
    assert all(t["weight"] == 1 for t in turns if t["content"].startswith("fresh"))
    oa = [
        t for ex in read_jsonl(tmp_path / "ds/openai_train.jsonl") for t in ex["messages"] if t["role"] == "assistant"
    ]
    assert [t["weight"] for t in oa if t["content"] == "lol same"] == [1, 1, 0, 0, 0, 0]
    assert all("end_weight" not in t for t in oa)  # not part of OpenAI's format
    off = build_dataset_json(msgs, tmp_path / "ds0", PrepConfig(target="Deniz", valid_fraction=0, dedupe_max_copies=0))
    assert off["dedupe"]["end_only_turns"] == 0


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"timestamp": "yesterday at 5"}, "not an ISO 8601 time"),
        ({"author_id": 12345}, "'author_id' must be a string"),
        ({"text": None}, "'text' must be a string"),
        ({"kind": "sticker"}, "'kind' must be one of"),
    ],
)
def test_hand_edited_messages_give_file_and_line(tmp_path, change, expected):
    from clonekit.errors import ClonekitError

    msgs = write_messages(tmp_path / "m.jsonl", [(0, "Maya", "hi"), (1, "Deniz", "selam"), (2, "Maya", "ok")])
    lines = msgs.read_text().splitlines()
    lines[1] = json.dumps({**json.loads(lines[1]), **change})
    msgs.write_text("\n".join(lines) + "\n")
    with pytest.raises(ClonekitError, match=expected) as e:
        build_dataset_json(msgs, tmp_path / "ds", PrepConfig(target="Deniz"))
    assert "m.jsonl" in str(e.value)
    assert ":2" in str(e.value)


def _outputs(folder):
    found = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "manifest.json"}
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest.pop("created")
    return found, manifest


def test_two_process_build_is_byte_identical(sample_messages, tmp_path, monkeypatch):
    """One chat in time order is built on two cores (data_prep/build_parallel.py): the same bytes in every file
    and the same manifest as one process; and when the second half would name someone otherwise for OpenAI (two
    names that clean to the same one, met in the other order), the second half is read again in one process."""
    from clonekit.data_prep import build_parallel, people

    cfg = PrepConfig(target="Maya", exclude=["Oliver"], valid_fraction=0.1)
    build_dataset_json(sample_messages, tmp_path / "one", cfg)
    monkeypatch.setattr(build_parallel, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(people, "PARALLEL_MIN_BYTES", 1)
    halves = []
    monkeypatch.setattr(
        build_parallel, "plan", lambda *a, _plan=build_parallel.plan: halves.append(_plan(*a)) or halves[-1]
    )
    build_dataset_json(sample_messages, tmp_path / "two", cfg)
    assert halves[0] is not None  # it did read in two halves
    assert halves[0][0][1] > 0
    assert _outputs(tmp_path / "two") == _outputs(tmp_path / "one")

    rows = [(2 * i, "Ana!" if i < 40 else "Bo", f"hi {i}") for i in range(80)]
    rows += [(200 + 2 * i, "Ana?" if i % 2 else "Bo", f"yo {i}") for i in range(80)]  # cleans to "Ana" too
    path = write_messages(tmp_path / "names.jsonl", rows)
    monkeypatch.setattr(build_parallel, "PARALLEL_MIN_BYTES", 8 << 20)
    build_dataset_json(path, tmp_path / "n1", PrepConfig(target="Bo", valid_fraction=0))
    monkeypatch.setattr(build_parallel, "PARALLEL_MIN_BYTES", 1)
    build_dataset_json(path, tmp_path / "n2", PrepConfig(target="Bo", valid_fraction=0))
    assert halves[-1] is not None
    assert _outputs(tmp_path / "n2") == _outputs(tmp_path / "n1")
    assert json.loads((tmp_path / "n2/openai_names.json").read_text()) == {"Bo": "Bo", "Ana!": "Ana", "Ana?": "Ana_2"}
