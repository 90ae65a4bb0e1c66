"""`clonekit judge REPORT_DIR`: blind judging by friends, a small local web page over a comparison's held-out cases.

Each item is one held-out case (the conversation before the person's turn) and two replies in random order: what the
person really wrote and what one endpoint (clone, base, hosted) wrote. The judge picks the real one or "can't tell".
Votes go to REPORT_DIR/judge.sqlite with the judge's name. The results page gives, per endpoint, how often judges
found the real reply ("can't tell" counts half: 50 % means indistinguishable) with a 95 % Wilson interval, each
judge's agreement with the other judges on the items they share, and a CSV export.

Served with the standard library's ThreadingHTTPServer (a page, a form and two tables need no framework). It binds
to 127.0.0.1; on any other address every request needs the token printed in the link (`?token=`, then a cookie).
All chat text is HTML-escaped and shown as text.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import ipaddress
import json
import math
import random
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlparse

from clonekit.errors import ClonekitError

VOTES_FILE = "judge.sqlite"
CONTEXT_TURNS = 6


@dataclass
class Item:
    id: str  # "case|endpoint"
    endpoint: str
    context: list[dict]  # {"speaker", "text"}
    real: str
    model: str


def load_items(report_dir: Path) -> list[Item]:
    path = report_dir / "replies.jsonl"
    if not path.exists():
        raise ClonekitError("not a comparison report (no replies.jsonl): run `clonekit compare` first", report_dir)
    items = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            try:
                case = json.loads(line)
                for endpoint, reply in case["replies"].items():
                    if reply.strip() and reply.strip() != case["real"].strip():  # an identical reply is no question
                        items.append(Item(f"{case['case']}|{endpoint}", endpoint, case["context"], case["real"], reply))
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
                raise ClonekitError(f"not a replies.jsonl line ({e})", path, lineno) from None
    if not items:
        raise ClonekitError("no case to judge: every reply is empty or equal to the real one", path)
    return items


def wilson(successes: float, n: int, z: float = 1.96) -> list[float] | None:
    if n == 0:
        return None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]


class Votes:
    def __init__(self, path: Path):
        self.lock = threading.Lock()
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS votes (id INTEGER PRIMARY KEY, judge TEXT NOT NULL, item TEXT NOT NULL, "
            "endpoint TEXT NOT NULL, choice TEXT NOT NULL CHECK (choice IN ('real', 'model', 'cant_tell')), "
            "at TEXT NOT NULL DEFAULT (datetime('now')), UNIQUE (judge, item))"
        )
        self.db.commit()

    def add(self, judge: str, item: Item, choice: str) -> None:
        with self.lock:
            self.db.execute(
                "INSERT OR REPLACE INTO votes (judge, item, endpoint, choice) VALUES (?, ?, ?, ?)",
                (judge, item.id, item.endpoint, choice),
            )
            self.db.commit()

    def done(self, judge: str) -> set[str]:
        with self.lock:
            return {r[0] for r in self.db.execute("SELECT item FROM votes WHERE judge = ?", (judge,))}

    def all(self) -> list[tuple[str, str, str, str, str]]:
        with self.lock:
            return list(self.db.execute("SELECT judge, item, endpoint, choice, at FROM votes ORDER BY id"))


def results(votes: list[tuple[str, str, str, str, str]]) -> dict:
    """Per endpoint: votes, found-real rate ("can't tell" = half) with its interval; per judge: votes, own rate, and
    agreement with the other judges on shared items."""
    per_endpoint: dict[str, dict] = {}
    for _, _, endpoint, choice, _ in votes:
        row = per_endpoint.setdefault(endpoint, {"votes": 0, "real": 0, "model": 0, "cant_tell": 0})
        row["votes"] += 1
        row[choice] += 1
    for row in per_endpoint.values():
        score = row["real"] + 0.5 * row["cant_tell"]
        row["found_real_rate"] = score / row["votes"]
        row["interval"] = wilson(score, row["votes"])
    by_item: dict[str, dict[str, str]] = {}
    for judge, item, _, choice, _ in votes:
        by_item.setdefault(item, {})[judge] = choice
    judges: dict[str, dict] = {}
    for judge, _, _, choice, _ in votes:
        row = judges.setdefault(judge, {"votes": 0, "found_real": 0.0, "shared": 0, "agreed": 0})
        row["votes"] += 1
        row["found_real"] += 1.0 if choice == "real" else 0.5 if choice == "cant_tell" else 0.0
    for choices in by_item.values():
        for judge, choice in choices.items():
            for other, theirs in choices.items():
                if other != judge:
                    judges[judge]["shared"] += 1
                    judges[judge]["agreed"] += choice == theirs
    for row in judges.values():
        row["found_real_rate"] = row["found_real"] / row["votes"]
        row["agreement"] = row["agreed"] / row["shared"] if row["shared"] else None
    return {"endpoints": per_endpoint, "judges": judges, "total_votes": len(votes)}


def _order(judge: str, item: Item) -> bool:
    """True: the real reply is shown first. Fixed per judge and item (a reload shows the same page)."""
    return hashlib.sha256(f"{judge}|{item.id}".encode()).digest()[0] % 2 == 0


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;margin:2em auto;max-width:760px;padding:0 1em}}
.turn{{margin:.3em 0;white-space:pre-wrap}}.who{{font-weight:600}}.reply{{border:1px solid #bbb;border-radius:8px;
padding:.8em;margin:.6em 0;white-space:pre-wrap}}button{{font-size:1em;padding:.5em 1em;margin:.3em .3em 0 0}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 10px}}.muted{{color:#666}}</style>
</head><body>{body}</body></html>"""


class JudgeServer:
    def __init__(self, report_dir: str | Path, host: str = "127.0.0.1", port: int = 8377, token: str | None = None):
        self.dir = Path(report_dir)
        self.items = load_items(self.dir)
        self.by_id = {i.id: i for i in self.items}
        self.votes = Votes(self.dir / VOTES_FILE)
        self.host = host
        loopback = host in ("localhost",) or _is_loopback(host)
        self.token = None if loopback else (token or secrets.token_urlsafe(16))
        self.httpd = ThreadingHTTPServer((host, port), self._handler())
        self.port = self.httpd.server_address[1]

    def link(self, host: str | None = None) -> str:
        shown = host or self.host
        return f"http://{shown}:{self.port}/" + (f"?token={self.token}" if self.token else "")

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def shutdown(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def next_item(self, judge: str) -> Item | None:
        done = self.votes.done(judge)
        left = [i for i in self.items if i.id not in done]
        if not left:
            return None
        return random.Random(judge).sample(left, 1)[0] if len(left) > 1 else left[0]

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet: the terminal shows the link, not every request
                pass

            def _cookies(self) -> dict[str, str]:
                c = SimpleCookie(self.headers.get("Cookie", ""))
                return {k: v.value for k, v in c.items()}

            def _authorized(self, query: dict) -> bool:
                if server.token is None:
                    return True
                given = (query.get("token") or [None])[0] or self._cookies().get("token")
                return given is not None and secrets.compare_digest(given, server.token)

            def _send(self, status: int, body: str, ctype: str = "text/html; charset=utf-8", cookies=()) -> None:
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.send_header(
                    "Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"
                )
                self.send_header("X-Content-Type-Options", "nosniff")
                for c in cookies:
                    self.send_header("Set-Cookie", c)
                self.end_headers()
                self.wfile.write(data)

            def _redirect(self, to: str, cookies=()) -> None:
                self.send_response(303)
                self.send_header("Location", to)
                for c in cookies:
                    self.send_header("Set-Cookie", c)
                self.end_headers()

            def _token_cookie(self, query: dict) -> list[str]:
                given = (query.get("token") or [None])[0]
                return [f"token={given}; Path=/; HttpOnly; SameSite=Strict"] if given and server.token else []

            def do_GET(self):
                url = urlparse(self.path)
                query = parse_qs(url.query)
                if not self._authorized(query):
                    return self._send(
                        403, PAGE.format(title="forbidden", body="<p>This page needs the link's token.</p>")
                    )
                cookies = self._token_cookie(query)
                if url.path == "/":
                    return self._send(200, server.page(self._cookies().get("judge")), cookies=cookies)
                if url.path == "/results":
                    return self._send(200, server.results_page(), cookies=cookies)
                if url.path == "/results.csv":
                    return self._send(200, server.csv(), "text/csv; charset=utf-8")
                return self._send(404, PAGE.format(title="not found", body="<p>Not found.</p>"))

            def do_POST(self):
                url = urlparse(self.path)
                if not self._authorized(parse_qs(url.query)):
                    return self._send(
                        403, PAGE.format(title="forbidden", body="<p>This page needs the link's token.</p>")
                    )
                length = int(self.headers.get("Content-Length", 0))
                form = parse_qs(self.rfile.read(min(length, 65536)).decode("utf-8"))
                field = lambda k: (form.get(k) or [""])[0].strip()  # noqa: E731
                if url.path == "/start":
                    name = field("judge")[:60]
                    if not name:
                        return self._redirect("/")
                    return self._redirect("/", [f"judge={quote(name)}; Path=/; SameSite=Strict"])
                if url.path == "/vote":
                    cookie = self._cookies().get("judge")
                    judge = unquote(cookie) if cookie else None
                    item = server.by_id.get(field("item"))
                    pick = field("pick")
                    if not judge or item is None or pick not in ("first", "second", "cant_tell"):
                        return self._send(400, PAGE.format(title="bad vote", body="<p>Bad vote.</p>"))
                    real_first = _order(judge, item)
                    choice = (
                        "cant_tell" if pick == "cant_tell" else ("real" if (pick == "first") == real_first else "model")
                    )
                    server.votes.add(judge, item, choice)
                    return self._redirect("/")
                return self._send(404, PAGE.format(title="not found", body="<p>Not found.</p>"))

        return Handler

    def page(self, judge_cookie: str | None) -> str:
        esc = html.escape
        if not judge_cookie:
            body = (
                "<h1>Which reply is the real one?</h1><p>Each page shows a bit of a group chat and two replies: one "
                "is what the person really wrote, the other a model's. Pick the real one, or say you can't tell.</p>"
                '<form method="post" action="/start"><label>Your name <input name="judge" required maxlength="60">'
                "</label> <button>Start</button></form>"
            )
            return PAGE.format(title="clonekit judge", body=body)
        judge = unquote(judge_cookie)
        item = self.next_item(judge)
        done = len(self.votes.done(judge))
        if item is None:
            body = f"<h1>All done, {esc(judge)}: thank you!</h1><p>{done} votes. <a href='/results'>Results</a></p>"
            return PAGE.format(title="clonekit judge", body=body)
        turns = "".join(
            f'<div class="turn"><span class="who">{esc(t["speaker"])}:</span> {esc(t["text"])}</div>'
            for t in item.context[-CONTEXT_TURNS:]
        )
        first, second = (item.real, item.model) if _order(judge, item) else (item.model, item.real)
        body = (
            f'<p class="muted">judge: {esc(judge)} · {done} of {len(self.items)} done · '
            "<a href='/results'>results</a></p><h2>The chat</h2>" + turns + "<h2>Which reply is the real one?</h2>"
            f'<div class="reply" id="first"><b>A</b>\n{esc(first)}</div>'
            f'<div class="reply" id="second"><b>B</b>\n{esc(second)}</div>'
            '<form method="post" action="/vote">'
            f'<input type="hidden" name="item" value="{esc(item.id)}">'
            '<button name="pick" value="first">A is real</button>'
            '<button name="pick" value="second">B is real</button>'
            '<button name="pick" value="cant_tell">Can\'t tell</button></form>'
        )
        return PAGE.format(title="clonekit judge", body=body)

    def results_page(self) -> str:
        esc = html.escape
        r = results(self.votes.all())
        rows = "".join(
            f"<tr class='endpoint' data-endpoint='{esc(name)}'><td>{esc(name)}</td><td>{row['votes']}</td>"
            f"<td class='rate'>{row['found_real_rate']:.1%}</td>"
            f"<td class='interval'>[{row['interval'][0]:.1%}, {row['interval'][1]:.1%}]</td>"
            f"<td>{row['cant_tell']}</td></tr>"
            for name, row in sorted(r["endpoints"].items())
        )
        judges = "".join(
            f"<tr><td>{esc(name)}</td><td>{row['votes']}</td><td>{row['found_real_rate']:.1%}</td>"
            f"<td>{'-' if row['agreement'] is None else format(row['agreement'], '.1%')}</td></tr>"
            for name, row in sorted(r["judges"].items())
        )
        body = (
            f"<h1>Results</h1><p>{r['total_votes']} votes. Found the real reply: share of votes that picked it "
            '("can\'t tell" counts half); 50 % means judges could not tell the model from the person. '
            "Brackets: 95 % Wilson interval.</p>"
            "<table id='endpoints'><tr><th>endpoint</th><th>votes</th><th>found the real reply</th>"
            f"<th>95 % interval</th><th>can't tell</th></tr>{rows}</table>"
            "<h2>Judges</h2><table id='judges'><tr><th>judge</th><th>votes</th><th>found the real reply</th>"
            f"<th>agreement with other judges</th></tr>{judges}</table>"
            "<p><a href='/results.csv'>votes as CSV</a> · <a href='/'>judge more</a></p>"
        )
        return PAGE.format(title="clonekit judge: results", body=body)

    def csv(self) -> str:
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(["judge", "item", "endpoint", "choice", "found_real", "at"])
        for judge, item, endpoint, choice, at in self.votes.all():
            found = 1.0 if choice == "real" else 0.5 if choice == "cant_tell" else 0.0
            w.writerow([judge, item, endpoint, choice, found, at])
        return out.getvalue()


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
