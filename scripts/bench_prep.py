"""Benchmark: parse and build of a 1M-message WhatsApp Android export, against whatstk, and the largest new source.

    .venv/bin/python scripts/bench_prep.py [--messages 1000000] [--workers N] [--skip-whatstk] [--html-messages N]
                                           [--runs 3]

Generates the export once (bench_out/, 24h d/m/Y Android format, ~1 line in 50 multi-line, media,
system lines, a deleted message now and then), then in this one run times, each in a fresh process:
  1. `clonekit prep parse`              (export -> messages.jsonl)
  2. `clonekit prep build`              (messages.jsonl -> datasets); whole prep = 1 + 2
  3. whatstk 0.9.1 `df_from_whatsapp` with the header format given by hand and max_size=None
  4. `clonekit prep parse` of a Telegram Desktop HTML export (the app's default format, the largest of the new
     sources: ~0.7 KB a message) of `--html-messages` messages from the same generator, pages of 1,000
and prints wall time (the median of `--runs` runs of each step, with the fastest and slowest: this machine's
noise is about 10 %), peak RSS (summed over the process and its workers, sampled from /proc every 20 ms, the
highest of the runs) and the ratios. Each step's previous outputs are removed and the disk synced, untimed,
before it runs (else the kernel writes the last step's 280 MB back while this one runs).
Targets (issue 24): parse <= 2 s, build <= 5 s, <= 300 MB. The outputs are checked against
the SHA-256 of the outputs of clonekit before the speed-up (scripts/bench_prep_expected.json): the generator is
seeded, so every run writes the same export.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench_out"
NAMES = ["Deniz", "Maya", "Oliver", "Priya", "~ Sam", "Jonas"]
WORDS = (
    "lol xd abi pizza tonight maybe the meeting'e geliyorum really great idea see you soon haha ok "
    "harbiden çok iyi I could be persuaded provided we don't go again 🎉 🍕 yes no wait what"
).split()


def make_export(path: Path, n: int, seed: int = 0) -> None:
    rnd = random.Random(seed)
    minute = 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(
            "01/01/2020, 09:00 - Messages and calls are end-to-end encrypted. No one outside of this chat, not even "
            "WhatsApp, can read or listen to them. Tap to learn more.\n"
        )
        for _ in range(n - 1):
            minute += rnd.choice((0, 0, 0, 1, 1, 2, 5, 9, 30, 240))
            day, rest = divmod(minute, 1440)
            stamp = time.gmtime(1577836800 + day * 86400)
            head = f"{stamp.tm_mday:02d}/{stamp.tm_mon:02d}/{stamp.tm_year}, {rest // 60:02d}:{rest % 60:02d} - "
            r = rnd.random()
            if r < 0.01:
                f.write(f"{head}{rnd.choice(NAMES[:4])}: <Media omitted>\n")
            elif r < 0.012:
                f.write(f"{head}{rnd.choice(NAMES[:4])}: This message was deleted\n")
            elif r < 0.013:
                f.write(f"{head}{rnd.choice(NAMES[:4])} added {rnd.choice(NAMES[4:])}\n")
            else:
                text = " ".join(rnd.choices(WORDS, k=rnd.randint(2, 14)))
                f.write(f"{head}{rnd.choice(NAMES)}: {text}\n")
                if r > 0.98:
                    f.write("and a second line, written after a newline\n")


EXPECTED = Path(__file__).with_name("bench_prep_expected.json")


def make_telegram_html(folder: Path, n: int, seed: int = 0) -> None:
    """A Telegram Desktop HTML export (messages.html, messages2.html, ...) of n messages, as the app writes it."""
    rnd = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    per_page = 1000
    minute = 0
    names = ["Deniz", "Maya", "Oliver", "Priya"]
    last = None
    for page in range((n + per_page - 1) // per_page):
        rows = []
        for i in range(page * per_page, min(n, (page + 1) * per_page)):
            minute += rnd.choice((0, 0, 1, 2, 5, 30, 240))
            stamp = time.gmtime(1577836800 + minute * 60)
            title = time.strftime("%d.%m.%Y %H:%M:%S", stamp) + " UTC+03:00"
            who = rnd.choice(names)
            text = html.escape(" ".join(rnd.choices(WORDS, k=rnd.randint(2, 14))))
            joined = " joined" if who == last else ""
            name = "" if joined else f'<div class="from_name">\n{who}\n</div>\n'
            rows.append(
                f'<div class="message default clearfix{joined}" id="message{i + 1}">\n<div class="body">\n'
                f'<div class="pull_right date details" title="{title}">\n{stamp.tm_hour:02d}:{stamp.tm_min:02d}\n'
                f'</div>\n{name}<div class="text">\n{text}\n</div>\n</div>\n</div>\n'
            )
            last = who
        name = "messages.html" if page == 0 else f"messages{page + 1}.html"
        (folder / name).write_text(
            '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8"/>\n<title>Exported Data</title>\n</head>\n'
            '<body>\n<div class="page_wrap">\n<div class="page_header">\n<div class="content">\n'
            '<div class="text bold">\nbench\n</div>\n</div>\n</div>\n<div class="page_body chat_page">\n'
            '<div class="history">\n' + "".join(rows) + "</div>\n</div>\n</div>\n</body>\n</html>\n",
            encoding="utf-8",
        )


def digests(paths: dict[str, Path]) -> dict[str, str]:
    return {name: hashlib.sha256(p.read_bytes()).hexdigest() for name, p in paths.items() if p.exists()}


def _children(pid: int) -> list[int] | None:
    """A process's children from /proc/PID/task/*/children (None where the kernel has no such file)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: list[int] = []
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found += map(int, f.read().split())
        except FileNotFoundError:
            return None
        except OSError:
            continue
    return found


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except (OSError, IndexError, ValueError):
        return 0


def _tree_rss_kb(root_pid: int) -> int:
    """RSS of a process and all its descendants, from /proc: through the children files where the kernel has them
    (~0.2 ms a sample, so the sampler takes little of the 2 cores it measures), else by reading every process."""
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        kids = _children(pid)
        if kids is None:
            return _tree_rss_kb_scan(root_pid)
        total += _rss_kb(pid)
        stack += kids
    return total


def _tree_rss_kb_scan(root_pid: int) -> int:
    """RSS of a process and all its descendants, from every /proc/PID/status."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                status = f.read()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid, ppid = int(entry), int(fields.get("PPid", "0").strip())
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) if "VmRSS" in fields else 0
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack += children.get(pid, [])
    return total


def timed(cmd: list[str], label: str) -> tuple[float, float]:
    """Run cmd; return (seconds, peak MB summed over its process tree)."""
    peak = 0
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_kb(proc.pid))
            done.wait(0.02)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - start
    done.set()
    t.join()
    if proc.returncode != 0:
        sys.exit(f"{label} failed ({proc.returncode}):\n{err.decode()[-2000:]}")
    return seconds, peak / 1024


def timed_runs(cmd: list[str], label: str, runs: int, before=None) -> tuple[float, float, float, float]:
    """`timed` `runs` times (with `before()`, untimed, ahead of each): (median seconds, peak MB over the runs,
    fastest, slowest). One run of a 2-core machine shared with others can be 10 % off either way."""
    times, peaks = [], []
    for _ in range(runs):
        if before is not None:
            before()
        os.sync()  # the step before's writes go to disk now, not while this one runs (the kernel's writeback)
        seconds, peak = timed(cmd, label)
        times.append(seconds)
        peaks.append(peak)
    return statistics.median(times), max(peaks), min(times), max(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=None, help="parse processes (default: clonekit's choice)")
    ap.add_argument("--skip-whatstk", action="store_true")
    ap.add_argument("--runs", type=int, default=3, help="runs of each step: the table shows the median")
    ap.add_argument("--html-messages", type=int, default=100_000, help="messages in the Telegram HTML export (0: skip)")
    args = ap.parse_args()

    OUT.mkdir(exist_ok=True)
    export = OUT / f"WhatsApp Chat with bench {args.messages}.txt"
    if not export.exists():
        t = time.perf_counter()
        make_export(export, args.messages)
        print(f"generated {export.name}: {export.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - t:.1f} s")
    size_mb = export.stat().st_size / 1e6
    ck = [sys.executable, "-m", "clonekit.cli"]
    workers = ["--workers", str(args.workers)] if args.workers else []
    messages = OUT / "bench_messages.jsonl"

    rows = []
    runs = args.runs
    # the previous run's outputs go first, untimed: replacing a 280 MB file makes the file system free its blocks
    # (0.15-0.2 s on ext4), a cost of the disk, not of the parse
    t_parse, m_parse, lo, hi = timed_runs(
        ck + ["prep", "parse", str(export), "-o", str(messages)] + workers,
        "clonekit prep parse",
        runs,
        before=lambda: messages.unlink(missing_ok=True),
    )
    rows.append(("clonekit prep parse", t_parse, m_parse, lo, hi))
    t_build, m_build, lo, hi = timed_runs(
        ck + ["prep", "build", str(messages), "--target", "Deniz", "-o", str(OUT / "bench_dataset")],
        "clonekit prep build",
        runs,
        before=lambda: shutil.rmtree(OUT / "bench_dataset", ignore_errors=True),
    )
    rows.append(("clonekit prep build", t_build, m_build, lo, hi))
    rows.append(("clonekit whole prep (parse + build)", t_parse + t_build, max(m_parse, m_build), None, None))
    dataset = OUT / "bench_dataset"
    outputs = {"messages.jsonl": messages} | {
        name: dataset / name
        for name in ("train.jsonl", "valid.jsonl", "openai_train.jsonl", "openai_valid.jsonl", "sessions.jsonl")
    }
    found = digests(outputs)
    expected = json.loads(EXPECTED.read_text()) if EXPECTED.exists() else {}
    same = expected.get(str(args.messages))
    if args.html_messages:
        html_dir = OUT / f"ChatExport_bench_{args.html_messages}"
        if not (html_dir / "messages.html").exists():
            make_telegram_html(html_dir, args.html_messages)
        t_html, m_html, lo, hi = timed_runs(
            ck + ["prep", "parse", str(html_dir), "-o", str(OUT / "bench_html.jsonl")],
            "clonekit prep parse (html)",
            runs,
            before=lambda: (OUT / "bench_html.jsonl").unlink(missing_ok=True),
        )
        rows.append((f"clonekit prep parse, Telegram HTML ({args.html_messages:,} msgs)", t_html, m_html, lo, hi))
    if not args.skip_whatstk:
        code = (
            "from whatstk.whatsapp.parser import df_from_whatsapp; "
            f"df = df_from_whatsapp({str(export)!r}, hformat='%d/%m/%Y, %H:%M - %name:', max_size=None); "
            "print(len(df))"
        )
        try:
            t_w, m_w, lo, hi = timed_runs([sys.executable, "-c", code], "whatstk", runs)
            rows.append(("whatstk 0.9.1 (format given by hand)", t_w, m_w, lo, hi))
        except SystemExit as e:
            print(f"whatstk not measured: {e}  (install it: .venv/bin/pip install whatstk)")
            t_w = None

    cores = os.cpu_count()
    print(f"\nprep benchmark: {args.messages:,} messages, {size_mb:.0f} MB WhatsApp Android export, {cores} cores")
    print(f"(each step run {runs} times: the median, the peak over the runs, and the fastest-slowest)")
    print(f"{'step':52} {'seconds':>8} {'peak MB':>8}  {'range':>11}")
    for label, s, mb, lo, hi in rows:
        spread = f"{lo:.2f}-{hi:.2f}" if lo is not None else ""
        print(f"{label:52} {s:8.2f} {mb:8.0f}  {spread:>11}")
    if not args.skip_whatstk and t_w:
        print(
            f"\nparse speed-up vs whatstk: {t_w / t_parse:.1f}x   "
            f"whole prep vs whatstk parse alone: {t_w / (t_parse + t_build):.1f}x"
            f"   memory: {m_w / max(m_parse, 1):.1f}x less"
        )
    print(
        f"targets: parse <= 2 s ({'met' if t_parse <= 2 else 'NOT met'}), build <= 5 s "
        f"({'met' if t_build <= 5 else 'NOT met'}), "
        f"<= 300 MB ({'met' if max(m_parse, m_build) <= 300 else 'NOT met'})"
    )
    if same:
        differ = [name for name, digest in found.items() if same.get(name) != digest]
        print(
            "outputs byte-identical to clonekit before the speed-up: "
            + ("yes" if not differ else f"NO ({', '.join(differ)})")
        )
    else:
        print(f"no reference digests for {args.messages} messages in {EXPECTED.name}: these are")
        print(json.dumps({str(args.messages): found}, indent=2))


if __name__ == "__main__":
    main()
