"""The redactor: every personal-data format the issue lists becomes its typed placeholder, and ordinary chat text
(dates, times, scores, versions of words) stays."""

import pytest

from clonekit.config import RedactConfig
from clonekit.redact import Redactor


@pytest.mark.parametrize(
    "text,expected,kind",
    [
        ("write to a.b-c@mail.example.org!", "write to <email>!", "email"),
        ("see https://x.example.com/a?b=1, ok", "see <url>, ok", "url"),
        ("get ftp://files.example.org/a.zip", "get <url>", "url"),
        ("see example.com/x now", "see <url> now", "url"),
        ("join t.me/joinchat/AAAA or discord.gg/abc123", "join <url> or <url>", "url"),
        ("short bit.ly/3xYz", "short <url>", "url"),
        ("card 4111 1111 1111 1111 ok", "card <card> ok", "card"),
        ("card 4111-1111-1111-1111", "card <card>", "card"),
        ("iban DE89 3704 0044 0532 0130 00 thanks", "iban <iban> thanks", "iban"),
        ("iban GB82WEST12345698765432", "iban <iban>", "iban"),
        ("ssn 123-45-6789 ok", "ssn <ssn> ok", "ssn"),
        ("server 192.168.1.20, ok", "server <ip>, ok", "ip"),
        ("v6 2001:db8::8a2e:370:7334 and fe80::1", "v6 <ip> and <ip>", "ip"),
        ("call (0532) 123 45 67 now", "call <phone> now", "phone"),
        ("call +44 7700 900123", "call <phone>", "phone"),
        ("ring (415) 555-2671 later", "ring <phone> later", "phone"),
        ("ref 12345678901234567890", "ref <number>", "number"),
    ],
)
def test_each_format_becomes_its_placeholder(text, expected, kind):
    r = Redactor(RedactConfig())
    assert r(text) == expected
    assert set(r.counts) == {kind}


@pytest.mark.parametrize(
    "text",
    [
        "on 2024-05-01 at 21:30, score 3-2",
        "time 10:30:45",
        "node.js and file.txt",
        "e.g. this lol.ok",
        "a 4111 b",
        "wait... what",
        "1/2 of it",
        "at 9:15 or 10.30",
        "room 101, floor 3",
        "I have 2 dogs and a street cat",
        "see you at 5 on the main road",
        "look at this, dot dot dot",
        "The meeting is at 10",
        "Pricing starts at 5",
    ],
)
def test_ordinary_text_stays(text):
    r = Redactor(RedactConfig())
    assert r(text) == text
    assert not r.counts


def test_excluded_names_in_every_spelling():
    r = Redactor(RedactConfig(), people=["Priya Sharma", "Priya", "priya_s", "Will"])
    assert (
        r("priya and PRIYA and Priya's @priya_s, also Sharma")
        == "<person> and <person> and <person> <person>, also <person>"
    )
    assert r("we will go, Will? WILL! @will_x") == "we will go, <person>? <person>! <person>"  # a word: as a name only
    assert r.counts == {"person": 8}
    sam = Redactor(RedactConfig(), people=["Sam"])
    assert sam("sam, Sam, SAM, @sam_k") == "<person>, <person>, <person>, <person>"


def test_switches():
    r = Redactor(RedactConfig(ids=False, urls=False))
    assert r("4111 1111 1111 1111 at example.com/x") == "4111 1111 1111 1111 at example.com/x"
