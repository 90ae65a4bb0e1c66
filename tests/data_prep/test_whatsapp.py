import zipfile

import pytest

from clonekit.data_prep.report import ParseReport
from clonekit.data_prep.whatsapp import parse_whatsapp
from clonekit.errors import ClonekitError


def parse(path, **kw):
    report = ParseReport()
    msgs = list(parse_whatsapp(path, report, **kw))
    assert report.read == len(msgs) + sum(report.skipped.values())
    return msgs, report


def rows(msgs):
    return [(m.timestamp, m.author, m.kind, m.text) for m in msgs]


def test_android_us_12h_narrow_nbsp_system_media_deleted_edited(fixtures):
    msgs, report = parse(fixtures / "whatsapp/android_us_12h.txt")
    assert rows(msgs) == [
        (
            "2024-01-14T21:02:00",
            "",
            "system",
            "Messages and calls are end-to-end encrypted. No one outside of this chat, "
            "not even WhatsApp, can read or listen to them. Tap to learn more.",
        ),
        ("2024-01-14T21:02:00", "", "system", 'Maya created group "Weekend: plans"'),
        ("2024-01-14T21:03:00", "", "system", "Maya added Deniz"),
        ("2024-01-14T21:05:00", "Maya", "text", "anyone up for pizza lol"),
        ("2024-01-14T21:06:00", "Deniz", "text", "pizza mı? ben varım abi"),
        ("2024-01-14T21:06:00", "Deniz", "text", "saat kaçta?"),
        (
            "2024-01-14T21:10:00",
            "Oliver",
            "text",
            "I could be persuaded.\nProvided we don't go to the place near the "
            "station again.\n\n1/15/24 was a terrible night there.",
        ),
        ("2024-01-14T21:11:00", "Priya", "media", "<Media omitted>"),
        ("2024-01-14T21:12:00", "Priya", "deleted", "This message was deleted"),
        ("2024-01-14T21:13:00", "Maya", "deleted", "You deleted this message"),
        ("2024-01-14T21:14:00", "Deniz", "text", "tamam 8'de"),
        ("2024-01-14T00:30:00", "Maya", "text", "midnight snack xd"),
        ("2024-01-15T12:05:00", "Oliver", "text", "noon"),
    ]
    assert [m.edited for m in msgs].count(True) == 1
    assert msgs[10].edited
    assert msgs[4].author_id == "whatsapp:Deniz"
    assert msgs[4].id == "5"
    assert all(m.platform == "whatsapp" and m.chat == "android_us_12h" for m in msgs)
    assert not report.warnings


def test_ios_brackets_seconds_lrm_crlf_and_zip(fixtures):
    expected = [
        (
            "2024-01-14T21:02:11",
            "Weekend",
            "system",
            "Messages and calls are end-to-end encrypted. No one outside of this "
            "chat, not even WhatsApp, can read or listen to them.",
        ),
        ("2024-01-14T21:02:11", "Weekend", "system", "Maya added Deniz"),
        ("2024-01-14T21:05:40", "Maya", "text", "anyone up for pizza lol"),
        ("2024-01-14T21:06:02", "Deniz", "media", "image omitted"),
        ("2024-01-14T21:06:30", "Priya", "media", "<attached: 00000012-PHOTO-2024-01-14-21-06-30.jpg>"),
        ("2024-01-14T21:07:00", "Deniz", "deleted", "This message was deleted."),
        ("2024-01-14T21:07:05", "Maya", "deleted", "You deleted this message."),
        ("2024-01-14T21:08:00", "Oliver Bennett", "text", "line one\n\nline three"),  # "~ " prefix stripped
        ("2024-01-14T21:09:00", "Deniz", "text", "bakarım"),
    ]
    msgs, _ = parse(fixtures / "whatsapp/ios_24h.txt")
    assert rows(msgs) == expected
    assert msgs[-1].edited
    zipped, _ = parse(fixtures / "whatsapp/WhatsApp Chat - Weekend.zip")
    assert rows(zipped) == expected
    assert zipped[0].chat == "Weekend"


@pytest.mark.parametrize(
    "name,expected",
    [
        (
            "ios_us_12h.txt",
            [
                ("2024-01-14T21:05:40", "Maya", "text", "lol"),
                ("2024-01-14T09:06:02", "Deniz", "text", "sabah sabah"),
                ("2024-01-13T23:59:59", "Oliver", "text", "Late."),
            ],
        ),
        (
            "android_de_24h.txt",
            [
                ("2024-01-14T21:05:00", "Maya", "text", "hallo"),
                ("2024-01-14T21:06:00", "Jonas", "media", "<Medien ausgeschlossen>"),
                ("2024-01-14T21:07:00", "Jonas", "deleted", "Diese Nachricht wurde gelöscht"),
                ("2024-01-14T21:08:00", "Maya", "text", "geht klar"),
            ],
        ),
        (
            "android_es.txt",
            [
                ("2024-01-14T21:05:00", "Maya", "text", "hola"),
                ("2024-01-14T09:06:00", "Deniz", "media", "<Multimedia omitido>"),
                ("2024-01-14T22:07:00", "Deniz", "deleted", "Se eliminó este mensaje."),
            ],
        ),
        (
            "ymd.txt",
            [("2024-01-14T21:05:00", "Maya", "text", "first"), ("2024-01-15T08:00:00", "Deniz", "text", "second")],
        ),
        ("bom.txt", [("2024-01-14T21:05:00", "Maya", "text", "bom first")]),
    ],
)
def test_locales(fixtures, name, expected):
    msgs, report = parse(fixtures / "whatsapp" / name)
    assert rows(msgs) == expected
    if name == "android_de_24h.txt":  # one day of dd.mm.yy dates: it could be yy.mm.dd, and the report says so
        assert len(report.warnings) == 1
        assert "yy.mm.dd" in report.warnings[0]
    else:
        assert not report.warnings


def test_day_month_order_from_dates_running_forward(fixtures):
    msgs, report = parse(fixtures / "whatsapp/ambiguous.txt")
    assert [m.timestamp[:10] for m in msgs] == ["2024-01-02", "2024-01-03", "2024-02-01"]
    assert not report.warnings


def test_truly_ambiguous_warns_or_follows_flag(fixtures):
    msgs, report = parse(fixtures / "whatsapp/truly_ambiguous.txt")
    assert msgs[0].timestamp.startswith("2024-04-03")
    assert report.warnings
    assert "--monthfirst" in report.warnings[0]
    msgs, report = parse(fixtures / "whatsapp/truly_ambiguous.txt", dayfirst=False)
    assert msgs[0].timestamp.startswith("2024-03-04")
    assert not report.warnings


def test_bad_encoding_names_file_and_line(fixtures):
    with pytest.raises(ClonekitError) as e:
        parse(fixtures / "whatsapp/bad_encoding.txt")
    assert e.value.line == 2
    assert "UTF-8" in str(e.value)
    assert "bad_encoding.txt:2" in str(e.value)


def test_empty_message_is_skipped_with_reason(tmp_path):
    p = tmp_path / "chat.txt"
    p.write_text("14/01/2024, 21:05 - Maya: \n14/01/2024, 21:06 - Deniz: hi\n", encoding="utf-8")
    msgs, report = parse(p)
    assert [m.text for m in msgs] == ["hi"]
    assert report.skipped["empty"] == 1
    assert report.read == 2


def test_text_before_first_header_warns(tmp_path):
    p = tmp_path / "chat.txt"
    p.write_text("garbage line\n14/01/2024, 21:06 - Deniz: hi\n", encoding="utf-8")
    msgs, report = parse(p)
    assert len(msgs) == 1
    assert "chat.txt:1" in report.warnings[0]


def test_media_with_caption_keeps_the_caption(tmp_path):
    p = tmp_path / "chat.txt"
    p.write_text("14/01/2024, 21:05 - Maya: IMG-20240114-WA0001.jpg (file attached)\nlook at this\n", encoding="utf-8")
    msgs, _ = parse(p)
    assert (msgs[0].kind, msgs[0].text) == ("text", "look at this")


def test_zip_without_txt_is_an_error(tmp_path):
    p = tmp_path / "x.zip"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("a.jpg", b"x")
    with pytest.raises(ClonekitError):
        parse(p)


def test_ios_document_and_view_once_lines_are_media(fixtures):
    msgs, _ = parse(fixtures / "whatsapp/ios_documents.txt")
    assert [(m.kind, m.text) for m in msgs] == [
        ("media", "Resume.pdf • \u200e2 pages \u200edocument omitted"),
        ("media", "View once photo omitted"),
        ("text", "nothing omitted"),  # no left-to-right mark: the person typed it
    ]
