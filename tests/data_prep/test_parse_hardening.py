"""Hostile and unusual exports: every failure is one clear error (file and position) or a counted skip, and nothing is
lost or glued silently. Includes the seeded mutation fuzz over every format."""

import io
import json
import zipfile

import pytest

from clonekit.data_prep.parse import ParseOptions, parse_exports
from clonekit.data_prep.report import ParseReport
from clonekit.data_prep.whatsapp import parse_whatsapp
from clonekit.errors import ClonekitError
from tests.fuzz_exports import fuzz

CHAT = (
    "14/01/2024, 21:05 - Maya: hello there\n"
    "14/01/2024, 21:06 - Deniz: line one\nline two\n"
    "15/01/2024, 08:00 - Maya: morning\n"
)


def parsed(tmp_path, *files, **options):
    out = tmp_path / "messages.jsonl"
    report = parse_exports(list(files), out, ParseOptions(workers=1, **options))
    msgs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert report.read == report.kept + sum(report.skipped.values())
    assert len(msgs) == report.kept
    return msgs, report


def texts(msgs):
    return [(m["timestamp"], m["author"], m["text"]) for m in msgs]


EXPECTED = [
    ("2024-01-14T21:05:00", "Maya", "hello there"),
    ("2024-01-14T21:06:00", "Deniz", "line one\nline two"),
    ("2024-01-15T08:00:00", "Maya", "morning"),
]


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: t.encode("utf-16"),  # with a BOM, as iOS writes it
        lambda t: t.encode("utf-16-le"),
        lambda t: t.replace("\n", "\r").encode(),  # CR-only line endings
        lambda t: t.replace("\n", "\r\n").encode("utf-8-sig"),
    ],
)
def test_encodings_and_line_endings_parse(tmp_path, encode):
    (tmp_path / "chat.txt").write_bytes(encode(CHAT))
    msgs, _ = parsed(tmp_path, tmp_path / "chat.txt")
    assert texts(msgs) == EXPECTED


def test_latin1_is_an_encoding_error_with_its_position(tmp_path):
    (tmp_path / "chat.txt").write_bytes(CHAT.replace("hello there", "café olé").encode("cp1252"))
    with pytest.raises(ClonekitError) as e:
        parsed(tmp_path, tmp_path / "chat.txt")
    assert e.value.line == 1
    assert "not valid UTF-8" in e.value.message
    assert "Windows-1252" in e.value.message


def test_zip_errors_are_clear(tmp_path):
    good = io.BytesIO()
    with zipfile.ZipFile(good, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("_chat.txt", CHAT)
    raw = bytearray(good.getvalue())
    encrypted = bytearray(raw)
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = encrypted.find(sig)
        encrypted[i + off] |= 1
    (tmp_path / "enc.zip").write_bytes(bytes(encrypted))
    with pytest.raises(ClonekitError, match="encrypted"):
        parsed(tmp_path, tmp_path / "enc.zip")
    corrupt = bytearray(raw)
    corrupt[40:60] = b"\x00" * 20  # inside the deflated member
    (tmp_path / "bad.zip").write_bytes(bytes(corrupt))
    with pytest.raises(ClonekitError, match="zip archive is damaged|not a readable zip"):
        parsed(tmp_path, tmp_path / "bad.zip")


def test_zip_bomb_is_bounded(tmp_path):
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("_chat.txt", "14/01/2024, 21:05 - Maya: hi\n" + "\n" * (3 << 20))
    (tmp_path / "bomb.zip").write_bytes(bomb.getvalue())
    assert len(bomb.getvalue()) < 20_000
    with pytest.raises(ClonekitError, match="unzips to more than 1 MiB.*--max-unzipped-mb"):
        parsed(tmp_path, tmp_path / "bomb.zip", max_unzipped_mb=1)
    msgs, report = parsed(tmp_path, tmp_path / "bomb.zip", max_unzipped_mb=8)  # within the limit: bounded memory
    assert report.skipped["too long"] == 1
    assert not msgs


def test_out_of_order_messages_are_sorted_with_a_count(tmp_path):
    lines = CHAT.splitlines(keepends=True)
    (tmp_path / "chat.txt").write_text(lines[3] + lines[0] + lines[1] + lines[2], encoding="utf-8")
    msgs, report = parsed(tmp_path, tmp_path / "chat.txt")
    assert texts(msgs) == EXPECTED
    assert report.reordered == 1
    assert "out of time order" in report.warnings[0]


def test_reversed_telegram_export_is_sorted(tmp_path):
    msgs = [
        {
            "id": i,
            "type": "message",
            "date": f"2024-01-14T21:{i:02d}:00",
            "from": "Maya",
            "from_id": "user1",
            "text": f"m{i}",
        }
        for i in range(10)
    ]
    (tmp_path / "result.json").write_text(
        json.dumps({"name": "c", "type": "personal_chat", "id": 1, "messages": msgs[::-1]}), encoding="utf-8"
    )
    out, report = parsed(tmp_path, tmp_path / "result.json")
    assert [m["text"] for m in out] == [f"m{i}" for i in range(10)]
    assert report.reordered == 9


def test_duplicates_and_overlapping_exports(tmp_path):
    (tmp_path / "a.txt").write_text(
        CHAT + "15/01/2024, 08:01 - Deniz: ok\n15/01/2024, 08:01 - Deniz: ok\n", encoding="utf-8"
    )
    (tmp_path / "b.txt").write_text(
        CHAT.split("\n", 1)[1] + "15/01/2024, 08:01 - Deniz: ok\n"
        "15/01/2024, 08:01 - Deniz: ok\n15/01/2024, 08:01 - Deniz: ok\n"
        "15/01/2024, 09:00 - Maya: new\n",
        encoding="utf-8",
    )
    msgs, report = parsed(tmp_path, tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "a.txt")
    # a: 5 messages; b overlaps on 2 + 2 "ok" of its 3 + adds 1 "ok" and "new"; a again: all duplicates
    assert [m["text"] for m in msgs].count("ok") == 3
    assert [m["text"] for m in msgs].count("new") == 1
    assert report.kept == 7
    assert report.skipped["duplicate"] == 4 + 5
    tg = {
        "name": "c",
        "type": "personal_chat",
        "id": 1,
        "messages": [
            {
                "id": 1,
                "type": "message",
                "date": "2024-01-14T21:00:00",
                "from": "Maya",
                "from_id": "user1",
                "text": "a",
            },
            {
                "id": 1,
                "type": "message",
                "date": "2024-01-14T21:00:00",
                "from": "Maya",
                "from_id": "user1",
                "text": "a",
            },
        ],
    }
    (tmp_path / "result.json").write_text(json.dumps(tg), encoding="utf-8")
    msgs, report = parsed(tmp_path, tmp_path / "result.json")
    assert len(msgs) == 1
    assert report.skipped["duplicate"] == 1


def test_telegram_by_structure_and_missing_id(tmp_path):
    # no "name" or "type" at the top: still a Telegram chat, by its messages' `date_unixtime`
    obj = {
        "messages": [
            {"id": 1, "type": "message", "date_unixtime": "1705266000", "from": "Maya", "text": "hi"},
            {"type": "message", "date_unixtime": "1705266060", "from": "Maya", "text": "no id"},
            {"id": 3, "type": "message", "date_unixtime": str(10**30), "from": "Maya", "text": "far"},
        ]
    }
    (tmp_path / "export.json").write_text(json.dumps(obj), encoding="utf-8")
    msgs, report = parsed(tmp_path, tmp_path / "export.json")
    assert [(m["id"], m["text"]) for m in msgs] == [("1", "hi"), ("row2", "no id")]  # kept, with a generated id
    assert report.skipped == {"malformed": 1}


def test_dce_csv_unterminated_quote_is_reported(tmp_path):
    rows = [
        '"AuthorID","Author","Date","Content","Attachments","Reactions"',
        '"1","Maya#0","2024-01-14T21:05:00+00:00","hi","",""',
        '"2","Deniz#0","2024-01-14T21:06:00+00:00","oops, "never closed","",""',
        '"1","Maya#0","2024-01-14T21:07:00+00:00","next","",""',
    ]
    (tmp_path / "g - c [1].csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(ClonekitError) as e:
        parsed(tmp_path, tmp_path / "g - c [1].csv")
    assert e.value.line == 3
    assert "malformed CSV" in e.value.message


def test_whatsapp_header_like_lines_are_never_glued(tmp_path):
    chat = (
        "06/20/2020, 00:07 a. m. - Ana: hola\n"
        '06/20/2020, 00:08 a. m. - +12 345 578 created group "Groupname"\n'
        "13/13/2020, 10:00 - Ana: impossible date\n"
        "06/21/2020, 10:00 a. m. - Ana: next day\n"
    )
    (tmp_path / "chat.txt").write_text(chat, encoding="utf-8")
    msgs, report = parsed(tmp_path, tmp_path / "chat.txt")
    assert [(m["timestamp"], m["kind"], m["text"]) for m in msgs] == [
        ("2020-06-20T00:07:00", "text", "hola"),
        ("2020-06-20T00:08:00", "system", '+12 345 578 created group "Groupname"'),
        ("2020-06-21T10:00:00", "text", "next day"),
    ]
    assert report.skipped["invalid date"] == 1


@pytest.mark.parametrize(
    "line,kind,text",
    [
        ("<Medien weggelassen>", "media", "<Medien weggelassen>"),
        ("‹pominięto multimedia>".replace("‹", "<"), "media", "<pominięto multimedia>"),
        ("<MEDIA OMITTED>", "media", "<MEDIA OMITTED>"),
        ("< Média vynechána >", "media", "< Média vynechána >"),
        ("<bỏ qua tệp phương tiện>", "media", "<bỏ qua tệp phương tiện>"),
        ("<省略多媒体文件>", "media", "<省略多媒体文件>"),
        (
            "< attached: 00000042-PHOTO-2020-01-01-12-00-00.jpg >",
            "media",
            "< attached: 00000042-PHOTO-2020-01-01-12-00-00.jpg >",
        ),
        ("\u200eA2Diagramm.graphml (Datei angehängt)", "media", "A2Diagramm.graphml (Datei angehängt)"),
        ("Ta wiadomość została usunięta", "deleted", "Ta wiadomość została usunięta"),
        ("Это сообщение удалено", "deleted", "Это сообщение удалено"),
        (
            "Messages and calls are end-to-end encrypted. No one outside of this chat can read them.",
            "system",
            "Messages and calls are end-to-end encrypted. No one outside of this chat can read them.",
        ),
    ],
)
def test_whatsapp_markers_in_many_languages(tmp_path, line, kind, text):
    (tmp_path / "chat.txt").write_text(f"[07.01.18, 20:16:00] Anton: {line}\n", encoding="utf-8")
    report = ParseReport()
    msgs = list(parse_whatsapp(tmp_path / "chat.txt", report))
    assert [(m.kind, m.text) for m in msgs] == [(kind, text)]


def test_attachment_keeps_its_caption(tmp_path):
    (tmp_path / "chat.txt").write_text(
        "07.01.18, 20:16 - Anton: \u200eA2Diagramm.graphml (Datei angehängt)\nschau mal\n", encoding="utf-8"
    )
    msgs = list(parse_whatsapp(tmp_path / "chat.txt", ParseReport()))
    assert [(m.kind, m.text) for m in msgs] == [("text", "schau mal")]


def test_two_digit_year_first_dates(tmp_path):
    chat = "".join(f"20.02.{d:02d} 03:50 - Ana: day {d}\n".replace(" 03:50 -", ", 03:50 -") for d in (4, 5, 28))
    chat += "20.03.01, 09:00 - Ana: march\n"
    (tmp_path / "chat.txt").write_text(chat, encoding="utf-8")
    msgs, report = parsed(tmp_path, tmp_path / "chat.txt")
    assert [m["timestamp"][:10] for m in msgs] == ["2020-02-04", "2020-02-05", "2020-02-28", "2020-03-01"]
    one_day = "20.02.04, 03:50 - Ana: one\n"  # read year last it would be 2004, before WhatsApp existed
    (tmp_path / "one.txt").write_text(one_day, encoding="utf-8")
    msgs, report = parsed(tmp_path, tmp_path / "one.txt")
    assert msgs[0]["timestamp"][:10] == "2020-02-04"
    assert not report.warnings
    (tmp_path / "two.txt").write_text("14.01.24, 21:05 - Ana: one\n", encoding="utf-8")  # 2024-01-14 or 2014-01-24
    msgs, report = parsed(tmp_path, tmp_path / "two.txt")
    assert msgs[0]["timestamp"][:10] == "2024-01-14"
    assert any("yy.mm.dd" in w for w in report.warnings)


def test_paths_give_one_clear_error(tmp_path):
    (tmp_path / "chat.txt").write_text(CHAT, encoding="utf-8")
    with pytest.raises(ClonekitError, match="is a folder"):
        parse_exports([tmp_path / "chat.txt"], tmp_path, ParseOptions())
    with pytest.raises(ClonekitError, match="file not found"):
        parse_exports([tmp_path / "missing.txt"], tmp_path / "m.jsonl", ParseOptions())


def test_mutation_fuzz_over_every_format(tmp_path):
    outcomes, crashes = fuzz(cases=1500, seed=11, work=tmp_path)
    assert not crashes, crashes[0][0] + "\n" + crashes[0][1]
    assert outcomes["parsed"] > 300
    assert outcomes["refused"] > 300


@pytest.mark.parametrize(
    "lines, stamps",
    [
        # dotted times, bracketed (iOS) and dashed (Android)
        (
            ["[13.06.18, 21.25.15] Maya: a", "[14.06.18, 09.01.02] Deniz: b"],
            ["2018-06-13T21:25:15", "2018-06-14T09:01:02"],
        ),
        (["13.06.18 21.25 - Maya: a", "14.06.18 09.01 - Deniz: b"], ["2018-06-13T21:25:00", "2018-06-14T09:01:00"]),
        # Croatian / Serbian "13. 6. 2018." and Hungarian "2018. 06. 13." dates
        (
            ["13. 6. 2018. 21:25 - Maya: a", "14. 6. 2018. 09:01 - Deniz: b"],
            ["2018-06-13T21:25:00", "2018-06-14T09:01:00"],
        ),
        (
            ["[13. 06. 2018. 21:25:15] Maya: a", "[1. 07. 2018. 9:01:00] Deniz: b"],
            ["2018-06-13T21:25:15", "2018-07-01T09:01:00"],
        ),
        (
            ["2018. 06. 13. 21:25 - Maya: a", "2018. 06. 14. 9:01 - Deniz: b"],
            ["2018-06-13T21:25:00", "2018-06-14T09:01:00"],
        ),
        # yy.dd.mm where a middle field above 12 proves it
        (
            ["18.13.06, 21:25 - Maya: a", "18.14.06, 21:26 - Deniz: b", "18.02.07, 08:00 - Deniz: c"],
            ["2018-06-13T21:25:00", "2018-06-14T21:26:00", "2018-07-02T08:00:00"],
        ),
    ],
)
def test_whatsapp_date_and_time_styles(tmp_path, lines, stamps):
    (tmp_path / "chat.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    msgs, report = parsed(tmp_path, tmp_path / "chat.txt")
    assert [m["timestamp"] for m in msgs] == stamps
    assert [m["author"] for m in msgs][:2] == ["Maya", "Deniz"]
    assert not report.skipped


@pytest.mark.parametrize("pm", ["p.m.", "p. m.", "p.\u202fm.", "\u202fp.m."])
def test_attached_lines_with_dotted_pm_are_media(tmp_path, pm):
    sep = "" if pm.startswith("\u202f") else " "
    chat = (
        f"[13/06/2018, 9:25:15{sep}{pm}] Maya: \u200e<attached: 00000012-PHOTO-2018-06-13-21-25-15.jpg>\n"
        f"[13/06/2018, 9:26:15{sep}{pm}] Maya: <adjunto: 00000013-AUDIO.opus>\n"
        f"[13/06/2018, 9:27:15{sep}{pm}] Deniz: see you\n"
    )
    (tmp_path / "chat.txt").write_text(chat, encoding="utf-8")
    msgs, _ = parsed(tmp_path, tmp_path / "chat.txt")
    assert [(m["kind"], m["timestamp"][11:]) for m in msgs] == [
        ("media", "21:25:15"),
        ("media", "21:26:15"),
        ("text", "21:27:15"),
    ]
