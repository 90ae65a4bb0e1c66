"""Mutated or random input never crashes the parsers (a ClonekitError is a clean refusal), and every
message read is accounted for."""

import json
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clonekit.data_prep.parse import parse_file
from clonekit.data_prep.report import ParseReport
from clonekit.errors import ClonekitError

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
header = st.sampled_from(
    [
        "1/14/24, 9:05\u202fPM - ",
        "[14/01/2024, 21:05:40] ",
        "\u200e[1/14/24, 9:05:40 AM] ",
        "14.01.24, 21:05 - ",
        "2024-01-14, 21:05 - ",
        "13/13/24, 25:61 - ",
        "",
        "\ufeff",
    ]
)
body = st.text(alphabet=string.printable + "\u200e\u202f\u00a0~<>:çışğü🙂", max_size=40)
line = st.tuples(header, body).map("".join)


def run(path):
    report = ParseReport()
    try:
        n = sum(1 for _ in parse_file(path, report))
    except ClonekitError:
        return None
    assert report.read == n + sum(report.skipped.values())
    return n


@SETTINGS
@given(lines=st.lists(line, min_size=1, max_size=30))
def test_whatsapp_random_lines(tmp_path, lines):
    p = tmp_path / "chat.txt"
    p.write_text("\n".join(lines), encoding="utf-8")
    run(p)


@SETTINGS
@given(data=st.data())
def test_mutated_exports(fixtures, tmp_path, data):
    src = data.draw(
        st.sampled_from(
            [
                "whatsapp/android_us_12h.txt",
                "whatsapp/ios_24h.txt",
                "telegram/result.json",
                "discord/Friends - Text Channels - general [800000000000000002].json",
                "discord/Friends - Text Channels - general [800000000000000002].csv",
            ]
        )
    )
    raw = bytearray((fixtures / src).read_bytes())
    for _ in range(data.draw(st.integers(1, 5))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        op = data.draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        if op == "flip":
            raw[pos] = data.draw(st.integers(0, 255))
        elif op == "delete":
            del raw[pos : pos + data.draw(st.integers(1, 20))]
        elif op == "insert":
            raw[pos:pos] = data.draw(st.binary(max_size=10))
        else:
            del raw[pos:]
        if not raw:
            raw = bytearray(b"x")
    p = tmp_path / (
        "mutated" + "".join(s for s in [".json" if src.endswith("json") else ".csv" if src.endswith("csv") else ".txt"])
    )
    p.write_bytes(bytes(raw))
    run(p)


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=20,
)
message = st.fixed_dictionaries(
    {},
    optional={
        "id": json_value,
        "type": st.sampled_from(["message", "service", "Default", "Reply", "x"]) | json_value,
        "date": st.sampled_from(["2024-01-14T21:05:40", "bad"]) | json_value,
        "date_unixtime": st.sampled_from(["1705255540", "x"]),
        "from": json_value,
        "from_id": json_value,
        "text": json_value,
        "timestamp": st.sampled_from(["2024-01-14T21:05:40+03:00", "?"]),
        "author": json_value,
        "content": json_value,
        "attachments": json_value,
        "reference": json_value,
    },
)


@SETTINGS
@given(msgs=st.lists(message, max_size=8), kind=st.sampled_from(["telegram", "dce"]))
def test_random_json_messages(tmp_path, msgs, kind):
    doc = (
        {"name": "x", "type": "private_group", "messages": msgs}
        if kind == "telegram"
        else {"guild": {"name": "g"}, "channel": {"name": "c"}, "messages": msgs}
    )
    p = tmp_path / "export.json"
    p.write_text(json.dumps(doc), encoding="utf-8")
    run(p)
