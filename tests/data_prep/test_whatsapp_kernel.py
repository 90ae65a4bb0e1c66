"""The compiled WhatsApp kernel (data_prep/_whatsapp_kernel.c) against the Python path it replaces: the header
matcher against the regex, the notice table against every code point, and whole chunks of messy generated exports
(and mutants of them) written byte for byte as `whatsapp_parallel.dump_chunk` writes them, with the same report."""

from __future__ import annotations

import json
import os
import random
import re
import sys

import pytest

from clonekit.data_prep import whatsapp, whatsapp_kernel, whatsapp_parallel
from clonekit.data_prep.report import ParseReport

kernel = whatsapp_kernel._kernel


def test_the_kernel_is_built():
    """setup.py builds it wherever there is a C compiler (CI has one): without it, `prep parse` is 2x slower."""
    assert kernel is not None, "clonekit.data_prep._whatsapp_kernel was not built (pip install -e . with gcc)"
    assert whatsapp_kernel.available()


needs_kernel = pytest.mark.skipif(kernel is None, reason="the kernel is not built")

_DIGITS = "0123456789" * 6 + "٣５"  # an Arabic-Indic and a fullwidth digit: Python's \d takes them
_PIECES = (
    ["/", "-", ".", ". ", ".\u202f", ",", ", ", " ", "\u202f", "\u00a0", ":", "[", "]", " - ", " – ", "-", "—"]
    + ["klo ", "um ", "à ", "kl. ", "kl ", "a. m.", "p.m.", "PM", "am", " pm", "\u202fAM", "A", "m", "x", "\u200e"]
    + ["\ufeff", "\u200f", "é", "🎉", "\t", ""]
)


def _near_header(rng: random.Random) -> str:
    """A line that is, or nearly is, a WhatsApp header of either style."""
    out = []
    for _ in range(rng.randint(1, 14)):
        if rng.random() < 0.5:
            out.append("".join(rng.choice(_DIGITS) for _ in range(rng.randint(1, 5))))
        else:
            out.append(rng.choice(_PIECES))
    if rng.random() < 0.6:  # build a real one now and then, then damage it a little
        d = f"{rng.randint(0, 39)}{rng.choice(['/', '.', '-', '. '])}{rng.randint(0, 19)}{rng.choice(['/', '.', '-'])}"
        d += str(rng.choice([20, 2020, 99, 1, 12345]))
        t = f"{rng.randint(0, 25)}{rng.choice([':', '.'])}{rng.randint(0, 61):02d}" + rng.choice(["", ":05", ".9"])
        between = rng.choice([", ", " ", ". ", "., ", ", klo ", " um ", ", à ", " kl. ", ",\u202f"])
        ampm = rng.choice(["", " PM", "\u202fa. m.", " p.m", "am", " xm"])
        if rng.random() < 0.5:
            out = [f"[{d}{between}{t}{ampm}]", rng.choice(["", " ", "\u202f"])] + out[:1]
        else:
            out = [f"{d}{between}{t}{ampm}", rng.choice([" - ", " – ", "\u202f-\u00a0", " -", "- "])] + out[:1]
        if rng.random() < 0.3:
            k = rng.randrange(len(out[0]) + 1)
            out[0] = out[0][:k] + rng.choice(_PIECES + list(_DIGITS)) + out[0][k + 1 :]
    return rng.choice(["", "", "\u200e", "\ufeff", "\u200f\u200e"]) + "".join(out) + rng.choice(["", " Maya: hi"])


@needs_kernel
@pytest.mark.parametrize("bracket", [True, False])
def test_the_header_matcher_is_the_regex(bracket):
    """200,000 near-headers: the kernel finds the same groups and end as `HEADER_LINES[bracket]`, or says it is
    unsure, only where a non-ASCII digit makes the regex's \\d and the kernel's differ."""
    rng = random.Random(7 + bracket)
    pattern = whatsapp.HEADER_LINES[bracket]
    matched = unsure = 0
    for _ in range(100_000):
        line = _near_header(rng)
        found = kernel.header(line.encode(), bracket)
        m = pattern.match(line)
        if found == "unsure":
            unsure += 1
            assert any(ch.isdecimal() and not ch.isascii() for ch in line), line
            continue
        if m is None:
            assert found is None, line
            continue
        matched += 1
        d, t, a = (g.encode() if g is not None else None for g in m.groups())
        assert found == (d, t, a, len(line[: m.end()].encode())), line
    assert matched > 5_000
    assert unsure > 100


@needs_kernel
def test_the_notice_table_covers_every_code_point():
    """Every character Python's re matches, case-insensitively, against the first letter of an encryption notice is
    in the kernel's table (else the kernel could call a notice a plain text)."""
    firsts, ascii_notices = whatsapp_kernel.notice_tables()
    pattern = re.compile("(?i:" + "|".join(sorted({re.escape(p[0]) for p in whatsapp_kernel.notice_prefixes()})) + ")")
    missing = [
        hex(x)
        for x in range(sys.maxunicode + 1)
        if not 0xD800 <= x < 0xE000 and x not in firsts and pattern.fullmatch(chr(x))
    ]
    assert not missing
    assert all(p.decode().isascii() and p == p.lower() for p in ascii_notices)
    assert 0x130 in firsts  # "İ": re's IGNORECASE matches it with "i" ("I messaggi ..."), str.lower does not


_AUTHORS = ["Maya", "~\u202fSam", "+90 555 123 45 67", "Deniz K.", "\u200eMaya", "Ali", "", "x" * 250, "Zoë"]
_TEXTS = [
    "lol",
    "ok see you at 8",
    "harbiden çok iyi 🎉",
    "🍕 tonight?",
    'she said "no" \\ really',
    "tab\there\x01and\x7fdel",
    "<Media omitted>",
    "<media OMITTED>",
    "This message was deleted",
    "this message was deleted.",
    "Bu mesaj silindi",
    "image omitted",
    "\u200eimage omitted",
    "Messages and calls are end-to-end encrypted. No one outside of this chat can read them.",
    "MESSAGES AND CALLS ARE END-TO-END ENCRYPTED",
    "messages are fun",
    "Ümit geliyor",
    "İyi akşamlar",
    "ſtrange",
    "Kelvin sign first",
    "Mesajlar ve aramalar uçtan uca şifrelidir.",
    "wiadomości i połączenia są szyfrowane",
    "Wiadomosci",
    "ends with >",
    "ends with )",
    " leading space",
    "trailing space ",
    "x",
    ">",
    "<",
    "",
    "document.pdf (file attached)",
    "<attached: 00000012-PHOTO-2020-01-01.jpg>",
    "a" * 300,
    "Ali: nested: colons",
    "edited text <This message was edited>",
    "\u200f\u202arlm marks\u202c",
]


def _messy_export(rng: random.Random, n: int, other_digits: bool = True) -> tuple[str, bool]:
    """An export that holds every kind of line the kernel must get right, or hand to Python."""
    bracket = rng.random() < 0.4
    twelve = rng.random() < 0.4
    lines = []
    if rng.random() < 0.3:
        lines.append("some text before the first header")
    day = rng.randint(1, 28)
    for _ in range(n):
        if rng.random() < 0.05:
            day = rng.randint(1, 31)  # 31/02 now and then: an invalid date
        h, mi = rng.randint(0, 23), rng.randint(0, 59)
        if twelve:
            clock = f"{h % 12 or 12}:{mi:02d}{rng.choice([' ', chr(0x202F)])}{rng.choice(['AM', 'PM', 'a. m.'])}"
        else:
            clock = f"{h:02d}:{mi:02d}" + (":07" if rng.random() < 0.1 else "")
        if rng.random() < 0.01:
            clock = "25:61"
        date = f"{day}/{rng.randint(1, 2)}/{rng.choice(['20', '2020'])}"
        if other_digits and rng.random() < 0.01:
            date = "١٢/٠٣/٢٠٢٠"  # Arabic-Indic digits: the regex's \d, not the kernel's
        head = f"[{date}, {clock}] " if bracket else f"{date}, {clock} - "
        r = rng.random()
        if r < 0.05:
            body = rng.choice(["Maya added Sam", "You created group \u201cx\u201d", "Ali left", "Sam: joined"])
        else:
            body = f"{rng.choice(_AUTHORS)}: {rng.choice(_TEXTS)}"
        if rng.random() < 0.03:
            body = ": " + body  # an empty author
        line = head + body
        if rng.random() < 0.03:
            line += "\r"
        lines.append(line)
        for _ in range(rng.choice([0] * 12 + [1, 2])):
            lines.append(rng.choice(["and a second line", "", "  indented", "12/01/2020 not a header", "\r"]))
        if rng.random() < 0.01:  # the other style's header: a continuation line here
            lines.append("01/02/2020, 10:00 - Maya: other style" if bracket else "[01/02/2020, 10:00] Maya: other")
    return "\n".join(lines) + rng.choice(["\n", ""]), bracket


def _run(path, bracket: bool, order: str, block: int, use_kernel: bool):
    """One chunk (the whole file) through one path: (bytes, stamps, sizes, backwards, report, count, blocks)."""
    report = ParseReport()
    builder = whatsapp.MessageBuilder("chat")
    out_path = path.with_suffix(f".{int(use_kernel)}.out")
    end = path.stat().st_size
    with open(path, "rb") as f, open(out_path, "w+b") as out:
        start = 3 if f.read(3) == b"\xef\xbb\xbf" else 0
        try:
            if use_kernel:
                writer = whatsapp_kernel.ChunkWriter(path, order, bracket, builder, report, out)
                whatsapp_kernel.write_chunk(f, start, end, 1, writer, block)
                stamps, sizes, backwards, blocks = writer.stamps, writer.sizes, writer.backwards, writer.blocks
            else:
                whatsapp_parallel.BLOCK_BYTES, saved = block, whatsapp_parallel.BLOCK_BYTES
                try:
                    blocks_iter = whatsapp_parallel.text_blocks(f, start, end, whatsapp.HEADER_LINES[bracket])
                    stamps, sizes, backwards = whatsapp_parallel.dump_chunk(
                        blocks_iter, 1, path, order, bracket, builder, report, out
                    )
                finally:
                    whatsapp_parallel.BLOCK_BYTES = saved
                blocks = None
        except UnicodeDecodeError:
            return "not utf-8", None
        out.flush()
        data = out_path.read_bytes()
    return (data, bytes(stamps), list(sizes), backwards, json.dumps(report.to_dict()), builder.count), blocks


@needs_kernel
def test_the_kernel_writes_what_the_python_path_writes(tmp_path):
    """300 messy generated chunks of both header styles, in blocks of 64 bytes to 1 MB (messages carried across
    blocks), and byte-level mutants of them: the same lines, times, sizes, order figure, report and count; the
    kernel writes most blocks itself, and hands Python the ones it cannot be sure of."""
    from tests.fuzz_exports import _mutate_bytes

    rng = random.Random(int(os.environ.get("CK_KERNEL_SEED", "11")))
    used = {"kernel": 0, "python": 0}
    compared = 0
    cases = int(os.environ.get("CK_KERNEL_CASES", "300"))  # 5,000 passed (seeds 11, 12 and 13)
    for case in range(cases):
        text, bracket = _messy_export(rng, rng.choice([5, 40, 400]))
        data = text.encode()
        if case % 3 == 2:
            data = _mutate_bytes(data, rng)
        path = tmp_path / f"case{case}.txt"
        path.write_bytes(data)
        order = rng.choice(["dmy", "mdy"])
        block = rng.choice([64, 97, 4096, 1 << 20])
        python, _ = _run(path, bracket, order, block, use_kernel=False)
        compiled, blocks = _run(path, bracket, order, block, use_kernel=True)
        assert compiled == python, f"case {case} (block {block}, {order}, bracket {bracket})"
        if blocks is not None:
            for k in used:
                used[k] += blocks[k]
        compared += python != "not utf-8"
    assert compared > cases * 0.8
    assert used["kernel"] > 10 * used["python"] > 0, used


@needs_kernel
def test_the_kernel_is_used_on_a_plain_export_and_writes_the_same_file(tmp_path, monkeypatch):
    """`prep parse` with two workers on a 12,000-message export: every block through the kernel, the same file
    as the Python path (CLONEKIT_PURE_PYTHON=1) and as the serial parser."""
    from clonekit.data_prep.parse import ParseOptions, parse_exports

    rng = random.Random(3)
    lines = [
        f"{1 + i // 2000:02d}/03/2021, {i // 60 % 24:02d}:{i % 60:02d} - {rng.choice(_AUTHORS[:6])}: "
        f"{rng.choice(_TEXTS[:4])} {i}"
        for i in range(12_000)
    ]
    export = tmp_path / "WhatsApp Chat with Test.txt"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(whatsapp_parallel, "PARALLEL_MIN_BYTES", 1)
    outputs = {}
    for name, env, workers in (("kernel", None, 2), ("python", "1", 2), ("serial", None, 1)):
        if env:
            monkeypatch.setenv("CLONEKIT_PURE_PYTHON", env)
        else:
            monkeypatch.delenv("CLONEKIT_PURE_PYTHON", raising=False)
        out = tmp_path / f"{name}.jsonl"
        r = parse_exports([export], out, ParseOptions(workers=workers))
        outputs[name] = (out.read_bytes(), r.read, dict(r.kinds))
    assert outputs["kernel"] == outputs["python"] == outputs["serial"]
    assert outputs["kernel"][1] == 12_000
