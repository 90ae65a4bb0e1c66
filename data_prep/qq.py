"""QQ message manager export (消息管理器 -> 导出消息记录, `.txt`) -> `Message`.

    消息记录（此消息记录为文本格式，不支持重新导入）

    ================================================================
    消息分组:我的好友
    ================================================================
    消息对象:Maya
    ================================================================

    2024-01-14 21:05:00 Maya
    hi

    2024-01-14 21:06:12 Deniz(123456789)      (group chats: "【管理员】Name(QQ号)" or "Name<mail@qq.com>")
    two
    lines

One header line (date, time, sender) and the message's lines up to the next header; the blank line before a
header is not text. `[图片]`, `[表情]`, `[文件]`, `[语音]` alone are media; "系统消息(10000)" is the system.
A file that is not UTF-8 is read as GB18030 (older QQ wrote Windows' Chinese code page). Times are local: naive.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

from clonekit.data_prep.export_common import head_text, read_text
from clonekit.data_prep.report import ParseReport
from clonekit.schema import Message

HEADER = re.compile(r"^(\d{4}-\d{1,2}-\d{1,2}) (\d{1,2}:\d{2}:\d{2}) (.+)$")
_QQ_NUMBER = re.compile(r"^(?:【[^】]*】)?(.*?)(?:\((\d{5,12})\)|<([^>]+)>)?$")
MEDIA = frozenset(("[图片]", "[表情]", "[文件]", "[语音]", "[视频]", "[闪照]", "[picture]", "[image]"))
RECALLED = ("撤回了一条消息",)
SYSTEM = ("系统消息", "10000")


def is_qq(path: Path) -> bool:
    if path.suffix.lower() != ".txt":
        return False
    head = head_text(path, 4096).lstrip("\ufeff")
    if head.startswith("消息记录") or "消息对象:" in head:
        return True
    lines = head.splitlines()
    headers = [m for ln in lines[:40] if (m := HEADER.match(ln))]
    return len(headers) >= 2 and not any(m.group(3).startswith(("-", "–")) for m in headers)


def _chat_name(lines: list[str], path: Path) -> str:
    for line in lines[:20]:
        if line.startswith(("消息对象:", "消息对象：")):
            return line.split(":", 1)[-1].split("：", 1)[-1].strip() or path.stem
    return path.stem


def _sender(raw: str) -> tuple[str, str]:
    m = _QQ_NUMBER.match(raw.strip())
    name = (m.group(1) if m else raw).strip() or raw.strip()
    number = (m.group(2) or m.group(3)) if m else None
    return name, f"qq:{number}" if number else f"qq:name:{name}"


def parse_qq(path: Path, report: ParseReport) -> Iterator[Message]:
    lines = read_text(path, fallback="gb18030").lstrip("\ufeff").replace("\r\n", "\n").split("\n")
    chat = _chat_name(lines, path)
    current: list | None = None  # [lineno, date, time, sender, parts]

    def finish(cur) -> Message | None:
        lineno, date, clock, sender, parts = cur
        while parts and not parts[-1].strip():
            parts.pop()
        text = "\n".join(parts).strip()
        try:
            stamp = dt.datetime.fromisoformat("{}-{:0>2}-{:0>2}T{:0>8}".format(*date.split("-"), clock)).isoformat()
        except ValueError:
            report.warn(path, lineno, f"invalid date {date} {clock}: message skipped")
            report.skip("invalid date")
            return None
        name, uid = _sender(sender)
        if name.startswith(SYSTEM) or uid == "qq:10000":
            return Message("qq", chat, str(lineno), stamp, "", "", text or "system", "system")
        if not text:
            report.skip("empty")
            return None
        if any(text.endswith(r) for r in RECALLED):
            return Message("qq", chat, str(lineno), stamp, name, uid, text, "deleted")
        if text in MEDIA or all(part in MEDIA for part in text.split()):
            return Message("qq", chat, str(lineno), stamp, name, uid, text, "media")
        return Message("qq", chat, str(lineno), stamp, name, uid, text)

    for lineno, line in enumerate(lines, 1):
        m = HEADER.match(line)
        if m is None:
            if line.startswith("=" * 16) or line.startswith(("消息对象:", "消息对象：", "消息分组:", "消息分组：")):
                if current is not None:  # the next contact's block of a multi-contact export
                    report.read += 1
                    msg = finish(current)
                    if msg is not None:
                        yield msg
                    current = None
                if line.startswith("消息对象"):
                    chat = _chat_name([line], path)
                continue
            if current is not None:
                current[4].append(line)
            continue
        if current is not None:
            report.read += 1
            msg = finish(current)
            if msg is not None:
                yield msg
        current = [lineno, m.group(1), m.group(2), m.group(3), []]
    if current is not None:
        report.read += 1
        msg = finish(current)
        if msg is not None:
            yield msg
