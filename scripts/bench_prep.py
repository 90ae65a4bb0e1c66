"""Benchmark: parse and whole prep of a 1M-message WhatsApp Android export, against whatstk.

    .venv/bin/python scripts/bench_prep.py [--messages 1000000] [--workers N] [--skip-whatstk]

Generates the export once (bench_out/, 24h d/m/Y Android format, ~1 line in 50 multi-line, media,
system lines, a deleted message now and then), then in this one run times, each in a fresh process:
  1. `clonekit prep parse`              (export -> messages.jsonl)
  2. `clonekit prep build`              (messages.jsonl -> datasets); whole prep = 1 + 2
  3. whatstk 0.9.1 `df_from_whatsapp` with the header format given by hand and max_size=None
and prints wall time, peak RSS (summed over the process and its workers, sampled from /proc every
20 ms) and the ratios. Targets (DEVELOPERS brief): parse <= 2 s, whole prep <= 5 s, <= 300 MB.
"""

from __future__ import annotations

import argparse
import os
import random
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


def _tree_rss_kb(root_pid: int) -> int:
    """RSS of a process and all its descendants, from /proc."""
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=None, help="parse processes (default: clonekit's choice)")
    ap.add_argument("--skip-whatstk", action="store_true")
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
    t_parse, m_parse = timed(ck + ["prep", "parse", str(export), "-o", str(messages)] + workers, "clonekit prep parse")
    rows.append(("clonekit prep parse", t_parse, m_parse))
    t_build, m_build = timed(
        ck + ["prep", "build", str(messages), "--target", "Deniz", "-o", str(OUT / "bench_dataset")],
        "clonekit prep build",
    )
    rows.append(("clonekit prep build", t_build, m_build))
    rows.append(("clonekit whole prep (parse + build)", t_parse + t_build, max(m_parse, m_build)))
    if not args.skip_whatstk:
        code = (
            "from whatstk.whatsapp.parser import df_from_whatsapp; "
            f"df = df_from_whatsapp({str(export)!r}, hformat='%d/%m/%Y, %H:%M - %name:', max_size=None); "
            "print(len(df))"
        )
        try:
            t_w, m_w = timed([sys.executable, "-c", code], "whatstk")
            rows.append(("whatstk 0.9.1 (format given by hand)", t_w, m_w))
        except SystemExit as e:
            print(f"whatstk not measured: {e}  (install it: .venv/bin/pip install whatstk)")
            t_w = None

    cores = os.cpu_count()
    print(f"\nprep benchmark: {args.messages:,} messages, {size_mb:.0f} MB WhatsApp Android export, {cores} cores")
    print(f"{'step':40} {'seconds':>8} {'peak MB':>8}")
    for label, s, mb in rows:
        print(f"{label:40} {s:8.2f} {mb:8.0f}")
    if not args.skip_whatstk and t_w:
        print(
            f"\nparse speed-up vs whatstk: {t_w / t_parse:.1f}x   "
            f"whole prep vs whatstk parse alone: {t_w / (t_parse + t_build):.1f}x"
            f"   memory: {m_w / max(m_parse, 1):.1f}x less"
        )
    print(
        f"targets: parse <= 2 s ({'met' if t_parse <= 2 else 'NOT met'}), whole prep <= 5 s "
        f"({'met' if t_parse + t_build <= 5 else 'NOT met'}), "
        f"<= 300 MB ({'met' if max(m_parse, m_build) <= 300 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
