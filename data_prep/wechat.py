"""WeChat CSV as the common export tools write it -> `Message`.

WeChatMsg / MemoTrace (留痕):
    localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender
  `Type`: 1 text, 3 image, 34 voice, 43 video, 47 sticker, 48 location, 49 app message (SubType 57: a quoted
  reply, whose StrContent is the reply's text; 6 file, 5 link), 50 call, 10000 system, 10002 recalled.
  `CreateTime` is Unix seconds, `StrTime` the local time ("2024-01-14 21:05:00"): together the UTC offset.
PyWxDump (and WeClone's input):
    id,MsgSvrID,type_name,is_sender,talker,room_name,msg,src,CreateTime
  `type_name` in Chinese or English ("文本"/"Text", "图片"/"Image", "引用回复", "系统通知", "撤回消息", ...),
  `CreateTime` the local time ("2024-01-14 21:05:00" or "2024/1/14 21:05"): naive.
`IsSender`/`is_sender` 1 is the owner (`--self-name`, else their nickname or "Me"). A recalled message
("撤回了一条消息") is deleted.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

from clonekit.data_prep.export_common import read_text, utc_iso, with_local_offset
from clonekit.data_prep.report import ParseReport, convert_records
from clonekit.errors import ClonekitError
from clonekit.schema import Message

MEMOTRACE = ("localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime")
PYWXDUMP = ("id", "MsgSvrID", "type_name", "is_sender", "talker")
TEXT_TYPES = {"1"}
QUOTE = ("49", "57")
SYSTEM_TYPES = {"10000", "10002", "50"}
MEDIA_LABELS = {"3": "image", "34": "voice", "43": "video", "47": "sticker", "48": "location", "49": "file or link"}
TEXT_NAMES = {"文本", "text", "引用回复", "quote", "reply"}
SYSTEM_NAMES = {"系统通知", "system", "拍一拍", "语音通话", "视频通话", "call"}
RECALLED = ("撤回了一条消息", "recalled a message", "撤回消息")
_TIMES = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")


def csv_header(path: Path) -> list[str]:
    from clonekit.data_prep.export_common import head_text

    first = head_text(path, 4096).lstrip("\ufeff").split("\n", 1)[0].strip("\r")
    return [c.strip().strip('"') for c in first.split(",")]


def is_wechat(path: Path) -> bool:
    if path.suffix.lower() != ".csv" or not path.is_file():
        return False
    header = csv_header(path)
    return tuple(header[: len(MEMOTRACE)]) == MEMOTRACE or set(PYWXDUMP) <= set(header)


def local_time(raw: str) -> dt.datetime:
    raw = raw.strip()
    for fmt in _TIMES:
        try:
            return dt.datetime.strptime(raw, fmt)
        except ValueError:
            continue
    raise ValueError(f"unrecognized time {raw!r}")


def parse_wechat(path: Path, report: ParseReport, self_name: str | None = None) -> Iterator[Message]:
    text = read_text(path)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    chat_default = path.stem
    try:
        memotrace = tuple((reader.fieldnames or [])[: len(MEMOTRACE)]) == MEMOTRACE  # reads the header row
        convert = _memotrace if memotrace else _pywxdump
        yield from convert_records(
            reader, lambda row: convert(row, chat_default, self_name), report, path, line_of=lambda _: reader.line_num
        )
    except csv.Error as e:
        raise ClonekitError(f"malformed CSV: {e}", path, reader.line_num) from None


def _owner(self_name: str | None, nickname: str | None) -> tuple[str, str]:
    return self_name or nickname or "Me", "wechat:me"


def _kind(text: str, system: bool, is_text: bool) -> str:
    if any(r in text for r in RECALLED):
        return "deleted"
    if system:
        return "system"
    return "text" if is_text else "media"


def _memotrace(row: dict, chat: str, self_name: str | None) -> Message | str:
    kind_code, sub = (row["Type"] or "").strip(), (row.get("SubType") or "").strip()
    seconds = int(row["CreateTime"])
    local = local_time(row["StrTime"]) if row.get("StrTime") else None
    stamp = with_local_offset(seconds, local)
    text = row.get("StrContent") or ""
    is_text = kind_code in TEXT_TYPES or (kind_code, sub) == QUOTE
    kind = _kind(text, kind_code in SYSTEM_TYPES, is_text)
    if kind == "media":  # StrContent of media is the app's XML, not words
        text = MEDIA_LABELS.get(kind_code, "media")
    mid = row.get("localId") or str(seconds)
    if (row.get("IsSender") or "").strip() == "1":
        author, uid = _owner(self_name, row.get("NickName"))
    else:
        who = row.get("Sender") or row.get("TalkerId") or ""
        author = row.get("Remark") or row.get("NickName") or who or "Unknown"
        uid = f"wechat:{who or author}"
    chat = chat if chat else str(row.get("TalkerId") or "WeChat")
    return _message(chat, mid, stamp, author, uid, text, kind)


def _pywxdump(row: dict, chat: str, self_name: str | None) -> Message | str:
    type_name = (row.get("type_name") or "").strip()
    text = row.get("msg") or ""
    raw_time = row["CreateTime"] or ""
    stamp = utc_iso(int(raw_time)) if raw_time.strip().isdigit() else local_time(raw_time).isoformat()
    kind = _kind(text, type_name.casefold() in SYSTEM_NAMES, type_name.casefold() in TEXT_NAMES)
    if kind == "media":
        text = type_name or "media"
    mid = row.get("MsgSvrID") or row.get("id") or stamp
    if (row.get("is_sender") or "").strip() == "1":
        author, uid = _owner(self_name, None)
    else:
        who = (row.get("talker") or "").strip()
        author, uid = who or "Unknown", f"wechat:{who or 'unknown'}"
    return _message(row.get("room_name") or chat, mid, stamp, author, uid, text, kind)


def _message(chat: str, mid: str, stamp: str, author: str, uid: str, text: str, kind: str) -> Message | str:
    text = text.strip()
    if kind == "system":
        return Message("wechat", chat, mid, stamp, "", "", text or "system", "system")
    if kind == "media":
        return Message("wechat", chat, mid, stamp, author, uid, text or "media", "media")
    if not text:
        return "empty"
    return Message("wechat", chat, mid, stamp, author, uid, text, kind)
