"""LINE chat history `.txt` (Chat settings -> Export chat history), in the app's languages -> `Message`.

    [LINE] Chat history with Maya            ([LINE] Mayaとのトーク履歴, [LINE] 與Maya的聊天記錄, ...)
    Saved on: 2024/01/15 10:00

    2024/01/14(Sun)                          (or "Sun, 01/14/2024", "2024.01.14 Sunday", "2024/01/14（日）")
    21:05\tMaya\thi                         (or "9:05 PM", "下午09:05", "오후 9:05", "午後9:05")
    21:06\tDeniz\t"two                       (a message of several lines is wrapped in double quotes)
    lines"
    21:07\tMaya\t[Sticker]                   (media: [Photo], [スタンプ], [照片], ...)
    21:08\t\tMaya joined the group.          (a system line: no author)

Times are the phone's local time without an offset: they stay naive.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

from clonekit.data_prep.export_common import head_text, read_text
from clonekit.data_prep.report import ParseReport
from clonekit.schema import Message

_AMPM = r"上午|下午|午前|午後|오전|오후|AM|PM|am|pm"
TIME = re.compile(rf"^(?:({_AMPM})\s?)?(\d{{1,2}}):(\d{{2}})(?:\s?({_AMPM}))?$")
MESSAGE = re.compile(r"^([^\t]{3,16})\t([^\t]*)(?:\t(.*))?$")
_YMD = re.compile(r"(?<!\d)(\d{4})[/.\-年](\d{1,2})[/.\-月](\d{1,2})(?!\d)")
_DMY_OR_MDY = re.compile(r"(?<!\d)(\d{1,2})/(\d{1,2})/(\d{4})(?!\d)")
PM_WORDS = ("下午", "午後", "오후", "PM", "pm")
MEDIA = frozenset(
    "[photo] [photos] [sticker] [video] [file] [voice message] [audio] [contact] [location] [album] [gif] "
    "[写真] [スタンプ] [動画] [ファイル] [ボイスメッセージ] [連絡先] [位置情報] [アルバム] "
    "[照片] [貼圖] [影片] [檔案] [語音訊息] [聯絡資訊] [位置資訊] [相簿] [图片] [表情] [视频] [文件] "
    "[사진] [스티커] [동영상] [파일] [음성메시지] [รูป] [สติกเกอร์] [วิดีโอ] [ไฟล์] [foto] [stiker] [video]".split(" ")
)
UNSENT = (
    "unsent a message",
    "メッセージの送信を取り消しました",
    "已收回訊息",
    "已撤回",
    "메시지를 취소했습니다",
    "ยกเลิกข้อความ",
)
_CHAT_NAME = (
    re.compile(r"^\[LINE\]\s*Chat history (?:with|in) (.+)$", re.I),
    re.compile(r"^\[LINE\]\s*(.+?)とのトーク履歴$"),
    re.compile(r"^\[LINE\]\s*(.+?)のトーク履歴$"),
    re.compile(r"^\[LINE\]\s*與(.+?)的聊天記錄$"),
    re.compile(r"^\[LINE\]\s*(.+?)(?:님과의 대화|의 대화)$"),
    re.compile(r"^\[LINE\]\s*(.+)$"),
)


def date_of(line: str) -> dt.date | None:
    """The date of a day-header line ("2024/01/14(Sun)", "Sun, 01/14/2024"), or None: a line with a tab never is."""
    if "\t" in line or len(line) > 40:
        return None
    m = _YMD.search(line)
    if m:
        y, mo, d = map(int, m.groups())
    else:
        m = _DMY_OR_MDY.search(line)
        if m is None:
            return None
        a, b, y = map(int, m.groups())
        mo, d = (b, a) if a > 12 else (a, b)  # LINE writes month first in English; a day above 12 says otherwise
    try:
        return dt.date(y, mo, d)
    except ValueError:
        return None


def time_of(raw: str) -> dt.time | None:
    m = TIME.match(raw.strip())
    if m is None:
        return None
    before, h, mi, after = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)
    marker = before or after
    if marker:
        if h > 12:
            return None
        h = h % 12 + (12 if marker in PM_WORDS else 0)
    if h > 23 or mi > 59:
        return None
    return dt.time(h, mi)


def is_line(path: Path) -> bool:
    if path.suffix.lower() != ".txt":
        return False
    lines = head_text(path, 8192).lstrip("\ufeff").splitlines()
    if lines and lines[0].startswith("[LINE]"):
        return True
    dated = any(date_of(ln) for ln in lines[:10])
    return dated and any((m := MESSAGE.match(ln)) and time_of(m.group(1)) for ln in lines[:30])


def chat_name(first_line: str, path: Path) -> str:
    for pattern in _CHAT_NAME:
        m = pattern.match(first_line.strip())
        if m:
            return m.group(1).strip()
    return path.stem.removeprefix("[LINE]").strip() or path.stem


def parse_line(path: Path, report: ParseReport) -> Iterator[Message]:
    lines = read_text(path).lstrip("\ufeff").split("\n")
    chat = chat_name(lines[0], path) if lines else path.stem
    day: dt.date | None = None
    current: list | None = None  # [lineno, stamp, author, parts]

    def finish(cur) -> Message | None:
        lineno, stamp, author, parts = cur
        text = "\n".join(parts).rstrip("\r")
        if "\n" in text and text.startswith('"') and text.endswith('"'):
            text = text[1:-1].replace('""', '"')
        text = text.strip()
        if not text:
            report.skip("empty")
            return None
        if not author:
            return Message("line", chat, str(lineno), stamp, "", "", text, "system")
        uid = f"line:name:{author}"
        if any(text.endswith(u) or text.endswith(u + ".") for u in UNSENT):
            return Message("line", chat, str(lineno), stamp, author, uid, text, "deleted")
        if text.casefold() in MEDIA or text.split(" ", 1)[0].casefold() in MEDIA:  # "[File] report.pdf"
            return Message("line", chat, str(lineno), stamp, author, uid, text, "media")
        return Message("line", chat, str(lineno), stamp, author, uid, text)

    def quote_open(cur) -> bool:
        text = "\n".join(cur[3])
        return text.startswith('"') and (len(text) == 1 or not text.endswith('"') or text.endswith('""'))

    for lineno, raw in enumerate(lines, 1):
        line = raw.rstrip("\r")
        m = MESSAGE.match(line)
        clock = time_of(m.group(1)) if m else None
        if clock is None and current is not None and quote_open(current):
            current[3].append(line)  # inside a quoted message a date line is text; a message line never is
            continue
        if clock is None:
            new_day = date_of(line)
            if new_day is not None:
                day = new_day
            elif current is not None:
                current[3].append(line)
            continue
        assert m is not None
        if current is not None:
            report.read += 1
            msg = finish(current)
            if msg is not None:
                yield msg
        if day is None:
            report.read += 1
            report.warn(path, lineno, "a message before the first date line: skipped")
            report.skip("invalid date")
            current = None
            continue
        stamp = dt.datetime.combine(day, clock).isoformat()
        if m.group(3) is None:  # "21:08\tMaya joined the group.": a system line
            current = [lineno, stamp, "", [m.group(2)]]
        else:
            current = [lineno, stamp, m.group(2).strip(), [m.group(3)]]
    if current is not None:
        report.read += 1
        msg = finish(current)
        if msg is not None:
            yield msg
