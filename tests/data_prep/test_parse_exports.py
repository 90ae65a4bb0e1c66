import json

from clonekit.data_prep import whatsapp_parallel
from clonekit.data_prep.parse import ParseOptions, parse_exports
from clonekit.samples.exports import write_whatsapp
from clonekit.samples.small import generate


def test_parse_exports_accounts_for_every_message(fixtures, tmp_path):
    out = tmp_path / "messages.jsonl"
    report = parse_exports(
        [fixtures / "whatsapp/android_us_12h.txt", fixtures / "telegram/result.json", fixtures / "discord/package.zip"],
        out,
    )
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == report.kept == 24
    assert report.read == report.kept + sum(report.skipped.values())
    first = json.loads(lines[0])
    assert set(first) == {
        "platform",
        "chat",
        "id",
        "timestamp",
        "author",
        "author_id",
        "text",
        "kind",
        "reply_to",
        "edited",
        "forwarded",
        "is_bot",
        "aka",
    }
    saved = json.loads((tmp_path / "messages.report.json").read_text())
    assert saved["read"] == report.read
    assert [f["format"] for f in saved["files"]] == [
        "whatsapp",
        "telegram",
        "discord-package",
    ]


def test_parallel_parse_is_identical_to_serial(tmp_path, monkeypatch):
    export = tmp_path / "WhatsApp Chat with big.txt"
    write_whatsapp(generate(seed=3, weeks=8), export)
    serial, parallel = tmp_path / "serial.jsonl", tmp_path / "parallel.jsonl"
    r1 = parse_exports([export], serial, ParseOptions(workers=1))
    monkeypatch.setattr(whatsapp_parallel, "PARALLEL_MIN_BYTES", 1)
    r2 = parse_exports([export], parallel, ParseOptions(workers=3))
    assert serial.read_bytes() == parallel.read_bytes()
    assert (r1.read, r1.kept, dict(r1.kinds)) == (r2.read, r2.kept, dict(r2.kinds))


def test_chunks_start_on_headers(tmp_path):
    export = tmp_path / "chat.txt"
    export.write_text("".join(f"1/{d}/24, 10:00 AM - A: msg {d}\ncontinued\n" for d in range(1, 29)), encoding="utf-8")
    bounds = whatsapp_parallel._chunk_bounds(export, 4, bracket=False)
    data = export.read_bytes()
    assert bounds[0][0] == 0
    assert bounds[-1][1] == len(data)
    for start, _end, line in bounds:
        assert data[start:].startswith(b"1/")
        assert data[:start].count(b"\n") + 1 == line


def test_worker_reports_merge_with_the_warning_cap():
    from clonekit.data_prep.report import MAX_WARNINGS, ParseReport

    total = ParseReport()
    for _ in range(2):
        part = ParseReport()
        part.read = 10
        part.kinds["text"] = 9
        part.skip("empty")
        for i in range(150):
            part.warn("chat.txt", i, "odd line")
        total.absorb(part.to_dict())
    assert (total.read, total.kept, total.skipped["empty"]) == (20, 18, 2)
    assert total.balanced()
    assert total.warnings_total == 300
    assert len(total.warnings) == MAX_WARNINGS


def _both_paths(tmp_path, monkeypatch, export):
    """(serial bytes and counts, parallel bytes and counts) of one WhatsApp file, or ("refused", why)."""
    from clonekit.errors import ClonekitError

    results = []
    for workers, min_bytes in ((1, 8 << 20), (2, 1)):
        monkeypatch.setattr(whatsapp_parallel, "PARALLEL_MIN_BYTES", min_bytes)
        monkeypatch.setattr(whatsapp_parallel, "BLOCK_BYTES", 97)  # many blocks: messages carried across them
        out = tmp_path / f"out{workers}.jsonl"
        try:
            r = parse_exports([export], out, ParseOptions(workers=workers))
        except ClonekitError as e:
            results.append(("refused", e.message))
            continue
        results.append((out.read_bytes(), r.read, r.kept, dict(r.kinds), dict(r.skipped), r.reordered))
    return results


def test_fast_chunk_path_equals_the_message_builder_on_every_whatsapp_file(tmp_path, monkeypatch):
    """The parallel path writes plain messages from byte templates (whatsapp_parallel.dump_chunk); the serial path
    builds every message with MessageBuilder. Byte for byte the same, on every WhatsApp fixture and on mutants of
    them (markers, odd authors, invalid dates, blank and CR lines, text before the first header, huge lines).
    3,300 mutants passed once (CK_DIFF_ROUNDS=300); the suite runs 12 rounds."""
    import os
    import random

    from tests.fuzz_exports import FIXTURES, _mutate_text

    seeds = sorted(p for p in (FIXTURES / "whatsapp").glob("*.txt") if p.name != "bad_encoding.txt")
    rng = random.Random(5)
    checked = 0
    for i in range(len(seeds) * int(os.environ.get("CK_DIFF_ROUNDS", "12"))):
        src = seeds[i % len(seeds)]
        data = src.read_bytes() if i < len(seeds) else _mutate_text(src.read_bytes(), rng)
        export = tmp_path / f"case{i}.txt"
        export.write_bytes(data)
        serial, parallel = _both_paths(tmp_path, monkeypatch, export)
        assert serial == parallel, f"{src.name} (case {i})"
        checked += serial[0] != "refused"
    assert checked > len(seeds) * 6
