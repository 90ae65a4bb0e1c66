import pytest

from clonekit.data_prep.parse import parse_file
from clonekit.data_prep.report import ParseReport
from clonekit.errors import ClonekitError


def parse(path, **kw):
    from clonekit.data_prep.parse import ParseOptions

    report = ParseReport()
    msgs = list(parse_file(path, report, ParseOptions(**kw)))
    assert report.read == len(msgs) + sum(report.skipped.values())
    return msgs


DCE = "discord/Friends - Text Channels - general [800000000000000002]"


def test_dce_json(fixtures):
    msgs = parse(fixtures / f"{DCE}.json")
    assert [(m.author, m.author_id, m.kind, m.text) for m in msgs] == [
        ("Maya", "discord:111", "system", "GuildMemberJoin"),
        ("Maya", "discord:111", "text", "anyone up for pizza lol"),  # nickname over name
        ("Deniz", "discord:222", "text", "pizza mı? ben varım abi"),
        ("priya", "discord:333", "media", "pizza.jpg"),  # attachments only
        ("QuizBot", "discord:999", "text", "Trivia time! Question 1"),
        ("Deniz", "discord:222", "system", "Pinned a message."),
        ("Deniz K", "discord:222", "text", "line one\nline two"),  # new nickname, same id
    ]
    assert msgs[2].reply_to == "900000000000000002"
    assert msgs[2].edited
    assert msgs[4].is_bot
    assert not msgs[1].is_bot
    assert msgs[1].timestamp == "2024-01-14T21:05:40.500000+03:00"
    assert msgs[2].timestamp == "2024-01-14T21:06:02.123456+03:00"  # 7 fraction digits trimmed
    assert msgs[0].chat == "Friends / general"


def test_dce_csv(fixtures):
    msgs = parse(fixtures / f"{DCE}.csv")
    assert [(m.author, m.author_id, m.timestamp, m.kind, m.text) for m in msgs] == [
        ("maya.k", "discord:111", "2024-01-14T21:05:40.500000+03:00", "text", "anyone up for pizza lol"),
        ("deniz_k", "discord:222", "2024-01-14T21:06:02+03:00", "text", "pizza mı? ben varım abi\nsaat kaçta?"),
        (
            "priya",
            "discord:333",
            "2024-01-14T21:07:00+03:00",
            "media",
            "https://cdn.discordapp.com/attachments/1/pizza.jpg",
        ),
        ("oliver", "discord:444", "2024-01-14T21:08:00", "text", 'Old date format, quoted, with "quotes".'),
    ]


@pytest.mark.parametrize("name", ["discord/package", "discord/package.zip"])
def test_data_package_folder_and_zip(fixtures, name):
    msgs = parse(fixtures / name)
    assert [(m.chat, m.author, m.author_id, m.timestamp, m.kind) for m in msgs] == [
        ("Direct Message with maya.k#0000", "Deniz", "discord:222", "2023-12-01T10:00:00+00:00", "text"),
        ("Friends / general", "Deniz", "discord:222", "2024-01-14T18:06:02+00:00", "text"),
        ("Friends / general", "Deniz", "discord:222", "2024-01-14T18:10:00.123000+00:00", "media"),
    ]
    assert {m.author for m in parse(fixtures / name, self_name="me myself")} == {"me myself"}


def test_data_package_single_channel_file(fixtures):
    msgs = parse(fixtures / "discord/package/messages/c800000000000000002/messages.json")
    assert [m.text for m in msgs] == ["pizza mı? ben varım abi", "https://cdn.discordapp.com/attachments/1/x.png"]


def test_truncated_json_names_line_and_column(fixtures):
    with pytest.raises(ClonekitError) as e:
        parse(fixtures / "discord/truncated.json")
    assert e.value.line == 61
    assert "truncated" in str(e.value)
    assert "column" in str(e.value)


def test_telegram_single_chat(fixtures):
    msgs = parse(fixtures / "telegram/result.json")
    assert [(m.timestamp, m.author, m.author_id, m.kind, m.text) for m in msgs] == [
        ("2024-01-14T21:00:00+03:00", "Maya", "telegram:user111", "system", "create_group: Maya Deniz"),
        ("2024-01-14T21:05:40+03:00", "Maya", "telegram:user111", "text", "anyone up for pizza lol"),
        (
            "2024-01-14T21:06:02+03:00",
            "Deniz",
            "telegram:user222",
            "text",
            "pizza mı? ben varım abi https://example.com/menu",
        ),
        ("2024-01-14T21:07:00+03:00", "Priya", "telegram:user333", "media", "photo"),
        ("2024-01-14T21:08:00+03:00", "Deleted Account", "telegram:user555", "text", "message from a deleted account"),
        ("2024-01-14T21:09:00+03:00", "Oliver", "telegram:user444", "text", "Forwarded news."),
        ("2024-01-14T21:10:00+03:00", "Deniz", "telegram:user222", "media", "sticker"),
        ("2024-01-14T21:11:00", "Maya", "telegram:user111", "text", "no unixtime here"),
    ]
    assert msgs[2].reply_to == "2"
    assert msgs[2].edited
    assert msgs[5].forwarded


def test_telegram_full_account(fixtures):
    msgs = parse(fixtures / "telegram/full_account.json")
    assert len(msgs) == 9
    assert {m.chat for m in msgs} == {"Weekend", "Maya"}


def test_unknown_format_names_file_and_formats(fixtures):
    with pytest.raises(ClonekitError) as e:
        parse(fixtures / "unknown.txt")
    assert "unknown.txt" in str(e.value)
    assert "Telegram" in str(e.value)
    assert "WhatsApp" in str(e.value)


def test_format_flag_restricts_detection(fixtures):
    with pytest.raises(ClonekitError):
        parse(fixtures / "telegram/result.json", format="discord")
    assert parse(fixtures / "telegram/result.json", format="telegram")
