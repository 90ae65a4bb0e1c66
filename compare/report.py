"""The report: report.json (metrics), replies.jsonl and selfplay.jsonl (what was said), report.md and
report.html (table, plots, side-by-side samples), and a blind A/B sheet with its key in a separate file."""

from __future__ import annotations

import base64
import html
import json
import math
import random
from pathlib import Path
from typing import Any

from clonekit.compare.cases import HeldOut
from clonekit.compare.lexical import words
from clonekit.contracts import CompareReport

# (key, label): the table's rows
METRICS = [
    ("style_target_prob", "style: P(target) (classifier)"),
    ("style_top1_rate", "style: classified as target"),
    ("lexical_distance", "lexical distance to target"),
    ("length_distance_words", "length distance (words, W1)"),
    ("relevance", "relevance to context (cosine)"),
    ("distinct_2", "distinct-2"),
    ("self_repetition", "self-repetition"),
    ("degenerate_rate", "degenerate replies"),
    ("selfplay_chats", "self-play chats"),
    ("loop_rate", "loop_rate (self-play, plain client)"),
    ("loop_rate_guarded", "loop_rate (self-play, bot guard on)"),
    ("cross_turn_repeat_rate", "cross-turn repeat rate (plain client)"),
    ("cross_turn_repeat_rate_guarded", "cross-turn repeat rate (bot guard on)"),
    ("guard_rejection_rate", "guard rejections (share of attempts)"),
    ("phrase_overuse_worst", "worst phrase over-use (x real rate)"),
    ("heldout_perplexity", "held-out perplexity"),
    ("latency_median_s", "latency median (s)"),
    ("tokens_per_s", "tokens/s"),
    ("errors", "failed requests"),
]
PLOTTED = [
    "style_target_prob",
    "lexical_distance",
    "relevance",
    "distinct_2",
    "loop_rate",
    "loop_rate_guarded",
    "cross_turn_repeat_rate",
    "phrase_overuse_worst",
    "guard_rejection_rate",
    "latency_median_s",
    "tokens_per_s",
]


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 100 else f"{v:.1f}"
    return str(v)


def _cell(row: dict, key: str) -> str:
    """The value with its 95 % bootstrap interval, e.g. `0.812 [0.790, 0.833]`."""
    iv = row.get("intervals", {}).get(key)
    value = _fmt(row.get(key))
    return f"{value} [{_fmt(iv[0])}, {_fmt(iv[1])}]" if iv and value != "–" else value


def table_rows(report: CompareReport) -> tuple[list[str], list[list[str]]]:
    names = list(report.endpoints)
    header = ["metric", "real replies"] + names
    rows = []
    for key, label in METRICS:
        values = [report.endpoints[n].get(key) for n in names]
        if all(v is None for v in values):
            continue
        rows.append([label, _cell(report.reference, key)] + [_cell(report.endpoints[n], key) for n in names])
    return header, rows


def markdown_table(report: CompareReport) -> str:
    header, rows = table_rows(report)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def plots(report: CompareReport, replies: dict[str, list[str]], held: HeldOut, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report.endpoints)
    keys = [k for k in PLOTTED if any(report.endpoints[n].get(k) is not None for n in names)]
    cols = 4
    rows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, key in zip(axes.flat, keys, strict=False):
        labels, values, cs, errs = [], [], [], []
        bars = ([("real", report.reference, "0.6")] if report.reference.get(key) is not None else []) + [
            (n, report.endpoints[n], colors[i % len(colors)]) for i, n in enumerate(names)
        ]
        for label, row, color in bars:
            v = row.get(key) or 0.0
            iv = row.get("intervals", {}).get(key) or [v, v]
            labels.append(label)
            values.append(v)
            cs.append(color)
            errs.append((max(0.0, v - iv[0]), max(0.0, iv[1] - v)))
        ax.bar(labels, values, color=cs, yerr=list(zip(*errs, strict=True)) if errs else None, capsize=3)
        ax.set_title(key, fontsize=10)
        ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    fig.tight_layout()
    metrics_png = out / "metrics.png"
    fig.savefig(metrics_png, dpi=90)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 3.5))
    series = {"real": [c.reply for c in held.cases], **replies}
    top = max(1, max((len(words(t)) for ts in series.values() for t in ts), default=1))
    bins = list(range(0, min(top, 60) + 2, max(1, min(top, 60) // 20)))
    for i, (n, ts) in enumerate(series.items()):
        ax.hist(
            [min(len(words(t)), bins[-1]) for t in ts],
            bins=bins,
            histtype="step",
            linewidth=1.8,
            label=n,
            color="0.4" if n == "real" else colors[(i - 1) % len(colors)],
        )
    ax.set_xlabel("words per reply")
    ax.set_ylabel("replies")
    ax.legend()
    ax.set_title("reply length")
    fig.tight_layout()
    hist = out / "lengths.png"
    fig.savefig(hist, dpi=90)
    plt.close(fig)
    return [metrics_png, hist]


def ab_sheet(
    held: HeldOut, replies: dict[str, list[str]], endpoint: str, out: Path, items: int = 20, seed: int = 0
) -> None:
    """For a human test: each item shows the context and two replies, one real and one from `endpoint`, in a
    random order. The key (which is which) goes to ab_key.json, apart from the sheet."""
    rng = random.Random(seed)
    chosen = [i for i, t in enumerate(replies[endpoint]) if t.strip()]
    rng.shuffle(chosen)
    chosen = sorted(chosen[:items])
    lines = [
        f"# Blind test: which reply did {held.target} really write?",
        "",
        "For each item, read the conversation and mark A or B. Do not open ab_key.json until you are done.",
        "",
    ]
    key: dict[str, Any] = {"endpoint": endpoint, "items": {}}
    for n, i in enumerate(chosen, 1):
        case = held.cases[i]
        pair = [("real", case.reply), (endpoint, replies[endpoint][i])]
        rng.shuffle(pair)
        key["items"][str(n)] = {"case": case.id, "A": pair[0][0], "B": pair[1][0]}
        lines.append(f"## {n}")
        lines += [f"> **{s}:** {x}".replace("\n", " / ") for s, x in ((t.speaker, t.text) for t in case.context[-6:])]
        lines += [
            "",
            f"- **A:** {pair[0][1]}".replace("\n", " / "),
            f"- **B:** {pair[1][1]}".replace("\n", " / "),
            "",
            "Real one: A / B",
            "",
        ]
    (out / "ab_sheet.md").write_text("\n".join(lines), encoding="utf-8")
    (out / "ab_key.json").write_text(json.dumps(key, indent=2), encoding="utf-8")


def _write_jsonl(report: CompareReport, held: HeldOut, replies: dict[str, list[str]], out: Path) -> None:
    """report.json, replies.jsonl (every case with every endpoint's reply) and selfplay.jsonl (the transcripts)."""
    transcripts = {n: r.pop("selfplay_transcripts", []) for n, r in report.endpoints.items()}
    (out / "report.json").write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False), encoding="utf-8")
    with open(out / "replies.jsonl", "w", encoding="utf-8") as f:
        for i, case in enumerate(held.cases):
            f.write(
                json.dumps(
                    {
                        "case": case.id,
                        "context": [{"speaker": t.speaker, "text": t.text} for t in case.context],
                        "real": case.reply,
                        "replies": {n: r[i] for n, r in replies.items()},
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    with open(out / "selfplay.jsonl", "w", encoding="utf-8") as f:
        for n, modes in transcripts.items():
            for mode, chats in modes.items():
                for j, chat in enumerate(chats):
                    f.write(
                        json.dumps({"endpoint": n, "mode": mode, "chat": j, "replies": chat}, ensure_ascii=False) + "\n"
                    )


def _iv(x: list[float] | None) -> str:
    return f" [{x[0]:.3f}, {x[1]:.3f}]" if x else ""


def _num(x: float | None, spec: str = ".3f") -> str:
    """A figure, or "n/a" where there was nothing to measure (no mention in the held-out sessions, one class only)."""
    return "n/a" if x is None else format(x, spec)


def speak_memory_lines(report: CompareReport) -> list[str]:
    """The "when to speak" table (the speak score beside its two baselines, then the replay) and memory recall, as
    markdown lines; [] when compare ran without --speak / --facts."""
    md: list[str] = []
    speak = report.speak
    if speak is not None:
        md += [
            "## When to speak",
            "",
            f"{speak.decision_points} held-out decision points (after each other speaker's turn), replayed through "
            f"the bot's core with `--speak auto` (threshold {speak.threshold:.3f} from `{speak.run}`). ROC AUC "
            'for "the target wrote the next turn", 95 % bootstrap intervals:',
            "",
            "| score | ROC AUC |",
            "|---|---|",
            *[f"| {name} | {_num(row.auc)}{_iv(row.interval)} |" for name, row in speak.table.items()],
            "",
            f"Reply rate through the bot: **{_num(speak.bot_reply_rate)}**{_iv(speak.bot_reply_rate_interval)} "
            f"vs the target's real {_num(speak.real_reply_rate)} ({_num(speak.rate_ratio, '.2f')}x); mentions "
            f"answered: **{_num(speak.mentions_answered, '.0%')}** of {speak.mentions}. Decisions: "
            + ", ".join(f"{k} {v}" for k, v in speak.reasons.items())
            + ".",
            "",
        ]
    memory = report.memory
    if memory is not None:
        md += [
            "## Memory",
            "",
            f"{memory.questions} held-out questions about facts told earlier (`{memory.facts}`); share of "
            "replies that contain the answer:",
            "",
            "| | recall |",
            "|---|---|",
            f"| with memory | **{memory.recall_with:.3f}**{_iv(memory.recall_with_interval)} |",
            f"| without memory | {memory.recall_without:.3f}{_iv(memory.recall_without_interval)} |",
            "",
            f"The answer was in the recalled memory block for {memory.answer_in_memory_block:.0%} of the questions.",
            "",
        ]
    return md


def _write_markdown(
    report: CompareReport, held: HeldOut, replies: dict[str, list[str]], picked: list[int], out: Path
) -> None:
    names = list(replies)
    md = [
        f"# clonekit compare: {held.target}",
        "",
        f"{report.cases} held-out turns from `{report.data}`; real replies are the reference column. "
        "Style = an authorship classifier (char n-gram TF-IDF + logistic regression) trained on the training split "
        "of every speaker; loop_rate = share of self-play chats with 3+ near-identical consecutive replies "
        "(clonekit/repetition.py), through a plain OpenAI client and through the bot's core with its guard on. "
        "Brackets: 95 % bootstrap intervals (replies or chats resampled).",
        "",
        markdown_table(report),
        "",
        "![metrics](metrics.png)",
        "",
        "![lengths](lengths.png)",
        "",
        *speak_memory_lines(report),
        "## Samples",
        "",
    ]
    for i in picked:
        case = held.cases[i]
        md.append(
            f"**{case.id}** " + " / ".join(f"{t.speaker}: {t.text}" for t in case.context[-3:]).replace("\n", " ")
        )
        md.append("")
        md.append(f"- real: {case.reply}".replace("\n", " / "))
        md += [f"- {n}: {replies[n][i]}".replace("\n", " / ") for n in names]
        md.append("")
    md.append("Blind A/B sheet for a human test: `ab_sheet.md` (key: `ab_key.json`).")
    (out / "report.md").write_text("\n".join(md), encoding="utf-8")


def _write_html(
    report: CompareReport,
    held: HeldOut,
    replies: dict[str, list[str]],
    picked: list[int],
    images: list[Path],
    out: Path,
) -> None:
    names = list(replies)
    header, rows = table_rows(report)
    esc = html.escape
    imgs = "".join(
        f'<img alt="{p.stem}" src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}">' for p in images
    )
    trs = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    sample_rows = []
    for i in picked:
        case = held.cases[i]
        ctx = "<br>".join(f"<b>{esc(t.speaker)}:</b> {esc(t.text)}" for t in case.context[-3:])
        cells = "".join(f"<td>{esc(replies[n][i])}</td>" for n in names)
        sample_rows.append(f"<tr><td class=ctx>{ctx}</td><td>{esc(case.reply)}</td>{cells}</tr>")
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>clonekit compare: {esc(held.target)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}}
table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top;white-space:pre-wrap}}th{{background:#f3f3f3}}
td.ctx{{color:#555;font-size:90%}}img{{max-width:100%;display:block;margin:1em 0}}</style></head><body>
<h1>clonekit compare: {esc(held.target)}</h1>
<p>{report.cases} held-out turns from <code>{esc(report.data)}</code>. Real replies are the reference column.
Style: authorship classifier (char n-gram TF-IDF + logistic regression) over every speaker's training turns.
loop_rate: share of self-play chats with three or more near-identical consecutive clone replies, through a plain
OpenAI client and through the bot's core with its guard on. Brackets: 95 % bootstrap intervals.</p>
<table><tr>{"".join(f"<th>{esc(h)}</th>" for h in header)}</tr>{trs}</table>{imgs}
<pre>{esc(chr(10).join(speak_memory_lines(report)))}</pre>
<h2>Samples</h2><table><tr><th>context</th><th>real</th>{"".join(f"<th>{esc(n)}</th>" for n in names)}</tr>
{"".join(sample_rows)}</table>
<p>Blind A/B sheet for a human test: <code>ab_sheet.md</code>; its key is in <code>ab_key.json</code>.</p>
</body></html>"""
    (out / "report.html").write_text(doc, encoding="utf-8")


def write_report(
    report: CompareReport,
    held: HeldOut,
    replies: dict[str, list[str]],
    out_dir: str | Path,
    ab_endpoint: str | None = None,
    samples: int = 12,
) -> Path:
    """report.json, replies.jsonl, selfplay.jsonl, report.md, report.html with the plots, and the blind A/B sheet."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_jsonl(report, held, replies, out)
    images = plots(report, replies, held, out)
    ab_sheet(held, replies, ab_endpoint or next(iter(replies)), out)
    step = max(1, len(held.cases) // samples)
    picked = list(range(0, len(held.cases), step))[:samples]
    _write_markdown(report, held, replies, picked, out)
    _write_html(report, held, replies, picked, images, out)
    return out
