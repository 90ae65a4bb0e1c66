"""WhatsApp's message header (date, time, an optional AM/PM, in every locale's punctuation) and the file's date
order: which of day/month/year order (dmy, mdy, ymd, and on evidence ydm) the file's header dates are written in."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from itertools import pairwise

_SP = "[ \u202f\u00a0]"
_DATE_SEP = rf"(?:[/-]|\.{_SP}?)"  # "13/06/2018", "13.06.18", Croatian/Hungarian "13. 6. 2018." and "2018. 06. 13."
_DATE = rf"\d{{1,4}}{_DATE_SEP}\d{{1,2}}{_DATE_SEP}\d{{1,4}}"
_TIME = r"\d{1,2}[:.]\d{2}(?:[:.]\d{2})?"
_AMPM = rf"[AaPp]\.?{_SP}?[Mm]\.?"
_BETWEEN = rf"\.?,?{_SP}(?:klo{_SP}|um{_SP}|à{_SP}|kl\.{_SP})?"
HEADER = re.compile(
    r"[\u200e\u200f\ufeff]*"
    rf"(?:\[(?P<bd>{_DATE}){_BETWEEN}(?P<bt>{_TIME})(?:{_SP}?(?P<ba>{_AMPM}))?\]{_SP}?"
    rf"|(?P<d>{_DATE}){_BETWEEN}(?P<t>{_TIME})(?:{_SP}?(?P<a>{_AMPM}))?{_SP}[-–]{_SP})"
)
_DATE_SPLIT = re.compile(rf"[/-]|\.{_SP}?")
# one style at a time, at the start of any line of a chunk (re.split over a whole chunk: the fast parallel path)
HEADER_LINES = {
    True: re.compile(
        rf"^[\u200e\u200f\ufeff]*\[({_DATE}){_BETWEEN}({_TIME})(?:{_SP}?({_AMPM}))?\]{_SP}?", re.MULTILINE
    ),
    False: re.compile(
        rf"^[\u200e\u200f\ufeff]*({_DATE}){_BETWEEN}({_TIME})(?:{_SP}?({_AMPM}))?{_SP}[-–]{_SP}", re.MULTILINE
    ),
}
_TIME_SPLIT = re.compile(r"[:.]")


ORDERS = ("dmy", "mdy", "ymd", "ydm")  # day/month/year order of a file's header dates
YEAR_FIRST = frozenset(("ymd", "ydm"))  # two-digit year first: "20.02.04" (yy.mm.dd), rarely yy.dd.mm


def _iso_date(raw: str, order: str) -> str | None:
    a, b, c = _DATE_SPLIT.split(raw)
    if len(a) >= 3 or order == "ymd":
        y, m, d = a, b, c
    elif order == "ydm":
        y, d, m = a, b, c
    elif order == "dmy":
        d, m, y = a, b, c
    else:
        m, d, y = a, b, c
    year = int(y)
    if len(y) <= 2:
        year += 2000
    try:
        return dt.date(year, int(m), int(d)).isoformat()
    except ValueError:
        return None


def _iso_time(raw: str, ampm: str | None) -> str | None:
    parts = _TIME_SPLIT.split(raw)
    h, mi = int(parts[0]), int(parts[1])
    s = int(parts[2]) if len(parts) > 2 else 0
    if ampm:
        if h > 12:
            return None
        pm = ampm[0] in "pP"
        h = (h % 12) + (12 if pm else 0)  # "00:08 a. m." (Latin American Spanish) is 12:08 AM
    if h > 23 or mi > 59 or s > 59:
        return None
    return f"{h:02d}:{mi:02d}:{s:02d}"


FIRST_YEAR = 2009  # WhatsApp's first release: an order that puts a date earlier is not the file's
MAX_SAMPLED_DATES = 400  # distinct header dates read to decide the order (more than a year of daily chat)


def infer_order(lines: Iterator[str], dayfirst: bool | None) -> tuple[str, bool | None, str | None]:
    """Decide the order of the header dates: `dmy`, `mdy` or `ymd` (four-digit or two-digit year first, as in
    `20.02.04 03:50`). Returns (order, bracket_style, warning).

    A field above 12 rules out its being the month, above 31 its being the day; a four-digit year settles it.
    Year first is yy.mm.dd unless the file proves yy.dd.mm (the rare order some phones write): a middle field above
    12, or dates that run forward only when read that way.
    Between what is left, the order under which the dates run forward in time, over the shortest span, wins
    (a two-digit-year-first file read day first jumps years from one day to the next). Still undecided between day
    and month first: dotted dates and `--dayfirst/--monthfirst` decide, else day first with a warning.
    """
    candidates = set(ORDERS)
    bracket: bool | None = None
    dotted = False
    seen: dict[str, None] = {}
    for line in lines:
        m = HEADER.match(line)
        if m is None:
            continue
        raw = m.group("bd") or m.group("d")
        if bracket is None:
            bracket = m.group("bd") is not None
        if raw in seen:
            continue
        seen[raw] = None
        a, b, c = _DATE_SPLIT.split(raw)
        if len(a) >= 3:
            return "ymd", bracket, None
        dotted = dotted or "." in raw
        ai, bi, ci = int(a), int(b), int(c)
        if bi > 12:
            candidates -= {"dmy", "ymd"}
        if ci > 12:
            candidates.discard("ydm")
        if ai > 12:
            candidates.discard("mdy")
        if ai > 31:
            candidates -= {"dmy", "mdy"}
        if not len(a) == len(b) == len(c) == 2 or ci > 31 or ci == 0:
            candidates -= YEAR_FIRST  # two-digit years first come zero-padded: "20.02.04"
        if bi > 31 or bi == 0:
            candidates.discard("ydm")
        if len(candidates) <= 1 or len(seen) >= MAX_SAMPLED_DATES:
            break
    if len(candidates) == 1:
        return candidates.pop(), bracket, None
    if not candidates:
        return "dmy", bracket, "the header dates fit no single day/month/year order; read day first"
    warning = None
    if candidates & YEAR_FIRST:
        scores = {o: _disorder(list(seen), o) for o in candidates}
        best = min(scores.values())
        winners = {o for o in candidates if scores[o] == best}
        if len(winners) == 1 and winners <= YEAR_FIRST:
            return winners.pop(), bracket, None
        if winners <= YEAR_FIRST:  # yy.dd.mm only on evidence (a middle field above 12, or time running forward)
            return "ymd", bracket, None
        if winners & YEAR_FIRST:
            warning = (
                "the header dates could be year first (yy.mm.dd) or year last; read year last: check the "
                "timestamps in messages.jsonl"
            )
        candidates = winners - YEAR_FIRST or candidates - YEAR_FIRST
    if len(candidates) == 1:
        return candidates.pop(), bracket, warning
    if dotted:
        return "dmy", bracket, warning
    if dayfirst is not None:
        return ("dmy" if dayfirst else "mdy"), bracket, warning
    day_first, month_first = (_disorder(list(seen), o)[0] for o in ("dmy", "mdy"))
    if day_first != month_first:
        return ("dmy" if day_first < month_first else "mdy"), bracket, warning
    return (
        "dmy",
        bracket,
        warning
        or (
            "day/month order is ambiguous (no day above 12); assuming day first: "
            "pass --monthfirst if dates are month/day"
        ),
    )


def _disorder(raw_dates: list[str], order: str) -> tuple[int, int]:
    """(steps backwards in time, days spanned) of the distinct dates in file order, read in `order`."""
    read = [_iso_date(r, order) for r in raw_dates]
    isos = [d for d in read if d is not None]
    if len(isos) < len(read) or not isos or not FIRST_YEAR <= int(min(isos)[:4]) <= dt.date.today().year + 1:
        return len(read) + 1, 1 << 30
    back = sum(1 for x, y in pairwise(isos) if y < x)
    span = (dt.date.fromisoformat(max(isos)) - dt.date.fromisoformat(min(isos))).days
    return back, span
