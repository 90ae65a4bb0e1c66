"""How the CLI shows a stage's result: rich tables and one-line summaries, printed to the console. The stages return
typed results (`clonekit.contracts` and the stages' own dataclasses); nothing here computes a figure."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from clonekit.cli.common import console, err_console

if TYPE_CHECKING:  # the contracts' pydantic models cost 0.1 s to import: only the commands that read one load them
    from clonekit.contracts import DatasetManifest, GateVerdict


def counts(items: dict[str, int]) -> str:
    """'a 1, b 2' in key order, or 'none'."""
    return ", ".join(f"{k} {v}" for k, v in sorted(items.items())) or "none"


def say(line: str) -> None:
    console.print(line, highlight=False, soft_wrap=True)


@contextmanager
def progress_bars():
    """(progress, log) for a long stage: `progress(description, total)` adds a bar and returns its advance();
    `log(line)` prints above the bars."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:

        def progress(description: str, total: int):
            task = bar.add_task(description, total=total)
            return lambda: bar.advance(task)

        yield progress, lambda m: bar.console.print(m, highlight=False)


def parse_report(report, out: Path) -> None:
    table = Table(title=f"parse report → {out}")
    for col, justify in (("file", "left"), ("format", "left"), ("read", "right"), ("kept", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for f in report.files:
        table.add_row(f["path"], f["format"], str(f["read"]), str(f["kept"]))
    console.print(table)
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(report.kinds.items()))
    console.print(
        f"read {report.read} = kept {report.kept} ({kinds}) + skipped {sum(report.skipped.values())} "
        f"({counts(report.skipped)})"
    )
    for w in report.warnings[:20]:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
    if report.warnings_total > 20:
        console.print(
            f"[yellow]… {report.warnings_total - 20} more warnings in {out.with_name(out.stem + '.report.json')}[/]"
        )


def people(found, proposals, messages: Path, limit: int, aliases_yaml: str) -> None:
    table = Table(title=f"people in {messages}")
    for col in ("name", "messages", "text", "media", "id", "active", "also known as"):
        table.add_column(col, justify="right" if col in ("messages", "text", "media") else "left")
    for p in found.ranked()[:limit]:
        others = ", ".join(n for n in p.names if n != p.name)
        ids = p.ids[0] + (f" +{len(p.ids) - 1}" if len(p.ids) > 1 else "")
        table.add_row(
            p.name + (" (bot)" if p.is_bot else ""),
            str(p.messages),
            str(p.kinds["text"]),
            str(p.kinds["media"]),
            ids,
            f"{p.first[:10]} → {p.last[:10]}",
            others,
        )
    console.print(table)
    if proposals:
        same = Table(title="the same person across apps? (nothing is merged until you confirm)")
        for col in ("one", "app", "other", "app", "why", "how sure"):
            same.add_column(col)
        for pr in proposals[:limit]:
            same.add_row(
                pr.a.name, ", ".join(sorted(pr.a.platforms)), pr.b.name, ", ".join(sorted(pr.b.platforms)),
                pr.reason, pr.strength,
            )  # fmt: skip
        console.print(same)
        console.print("to merge them, add to the prep config (or pass --alias OLD=NEW):", highlight=False)
        console.print(aliases_yaml, highlight=False, markup=False)
    console.print("choose one with `clonekit prep build MESSAGES --target NAME -o DIR`")


def dataset_quality_lines(manifest: DatasetManifest) -> list[str]:
    """Leakage and de-duplication figures of a built dataset."""
    lines = []
    leak = manifest.leakage
    if leak is not None:
        lines.append(
            f"leakage: {leak.in_train_verbatim} of {leak.valid_target_turns} validation target replies "
            f"appear verbatim in train ({leak.rate:.1%})"
        )
    dd = manifest.dedupe
    if dd is not None and dd.max_copies:
        lines.append(
            f"de-duplication: {dd.end_only_turns} repeated target turns in train keep only their "
            f"end-of-turn loss (more than {dd.max_copies} copies of one text)"
        )
    return lines


def build_summary(manifest: DatasetManifest, out: Path) -> None:
    m, s, e = manifest.messages, manifest.sessions, manifest.examples
    console.print(f"target [bold]{manifest.target}[/] ({', '.join(manifest.target_ids)})")
    console.print(f"messages: read {m.read} = kept {m.kept} + skipped {sum(m.skipped.values())} ({counts(m.skipped)})")
    if len(manifest.sources) > 1:
        apps = ", ".join(f"{app} {c.kept} (target {c.target})" for app, c in manifest.sources.items())
        console.print(f"sources: {apps}")
    console.print(f"sessions: {s.total} ({s.without_target} without the target); train {s.train}, valid {s.valid}")
    console.print(
        f"examples: train {e.train} ({e.target_turns_train} target turns), "
        f"valid {e.valid} ({e.target_turns_valid} target turns)"
    )
    found = {k: v for k, v in manifest.redaction.items() if v}
    console.print(f"redacted: {counts(found) if found else 'nothing found'}")
    oa = manifest.openai
    console.print(
        f"openai: train {oa.train}, valid {oa.valid} "
        f"(split {oa.split_too_long}, dropped {oa.dropped_too_long} too long)"
    )
    if oa.train < 10:
        console.print("[yellow]warning:[/] OpenAI fine-tuning needs at least 10 training examples")
    for line in dataset_quality_lines(manifest):
        say(line)
    console.print(f"wrote {out}/: " + ", ".join(manifest.files))


def pairs_summary(summary: dict) -> None:
    by = ", ".join(f"{k} {v}" for k, v in sorted(summary["by_source"].items()))
    skipped = counts(summary["skipped"])
    console.print(f"pairs: {summary['pairs']} ({by}); made {summary['made']}, skipped turns: {skipped}")
    console.print(f"wrote {summary['out']}")


def stats(result, dataset: Path, counted: bool) -> None:
    table = Table(title=f"people in {dataset} (tokens: {'SmolLM2-135M tokenizer' if counted else 'not counted'})")
    columns = ("name", "messages", "sessions", "tokens", "median chars", "emoji", "lowercase", "punctuated", "repeats")
    for col in columns:
        table.add_column(col, justify="left" if col == "name" else "right")
    for r in result.people:
        table.add_row(
            ("[bold]" + r["name"] + "[/] (target)") if r["target"] else r["name"],
            str(r["messages"]),
            str(r["sessions"]),
            str(r["tokens"]) if counted else "-",
            f"{r['median_chars']:g}",
            f"{r['emoji_rate']:.0%}",
            f"{r['lowercase_rate']:.0%}",
            f"{r['punctuation_rate']:.0%}",
            f"{r['repeat_rate']:.1%}",
        )
    console.print(table)
    say(
        "repeats: messages that repeat the same person's earlier message word for word (reactions of up "
        'to two words, such as "lol", aside)'
    )
    ds = Table(title="dataset")
    for col in ("split", "sessions", "examples", "target turns"):
        ds.add_column(col, justify="left" if col == "split" else "right")
    manifest = result.manifest
    ex = manifest.examples
    ds.add_row("train", str(manifest.sessions.train), str(ex.train), str(ex.target_turns_train))
    ds.add_row("valid", str(manifest.sessions.valid), str(ex.valid), str(ex.target_turns_valid))
    console.print(ds)
    for line in dataset_quality_lines(manifest):
        say(line)


def metrics_table(run: Path, metrics: dict, keys: tuple[str, ...]) -> None:
    table = Table(title=f"adapter → {run}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in keys:
        value = metrics.get(key)
        table.add_row(key, "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)


def events(found: dict[str, int]) -> None:
    if found:
        err_console.print("events: " + counts(found), highlight=False)


def gate_text(gate: GateVerdict) -> str:
    lines = [f"gate: {'PASSED' if gate.passed else 'FAILED'} against {gate.against}"]
    for check in gate.checks:
        lines.append(f"  {'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    return "\n".join(lines)


def verdict(gate: GateVerdict) -> None:
    say(gate_text(gate))
    say("figures: " + ", ".join(f"{k} {v:.4g}" for k, v in gate.figures.items() if isinstance(v, (int, float))))


def feedback_text(found: dict[str, int]) -> str:
    return ", ".join(f"{k} {n}" for k, n in sorted(found.items())) or "-"


def number(x) -> str:
    return f"{x:.4g}" if isinstance(x, float) else "-" if x is None else str(x)


def registry_list(state, title: str) -> None:
    table = Table(title=title)
    for col in ("version", "status", "alias", "parent", "gate", "feedback"):
        table.add_column(col)
    for vid, v in state.versions.items():
        alias = ", ".join(
            a for a, x in (("live", state.live), ("candidate", state.candidate), ("a/b", state.ab)) if x == vid
        )
        gate = "-" if v.gate is None else ("passed" if v.gate.passed else "FAILED")
        table.add_row(vid, v.status, alias, v.parent or "-", gate, feedback_text(v.feedback))
    console.print(table)


def version(vid: str, info, v, records: list) -> None:
    say(f"[bold]{vid}[/]  status {v.status}; parent {v.parent or '-'}; method {info.method}; created {info.created}")
    say(
        f"content {info.content_sha256[:16]}  core {info.core_sha256[:16]}  "
        f"config {info.config_sha256[:16]}  base {info.base.id} {info.base.sha256[:12]}"
    )
    say(f"data: {json.dumps(info.data.model_dump(mode='json', exclude_none=True), ensure_ascii=False)}")
    figures = {k: val for k, val in info.metrics.items() if isinstance(val, (int, float))}
    say("training: " + ", ".join(f"{k} {number(val)}" for k, val in figures.items()))
    if v.gate:
        say(gate_text(v.gate))
    say(f"feedback: {feedback_text(v.feedback)}; approved by: {v.approved_by or '-'}")
    for r in records:
        say(f"  {r.seq:>4} {r.time}  {r.event:<11} {r.actor}: {r.reason}")


def external_version(vid: str, v, records: list) -> None:
    ext = v.external
    say(f"[bold]{vid}[/]  hosted: {ext['model']} at {ext['base_url']} (job {ext['job_id']}); status {v.status}")
    for r in records:
        say(f"  {r.seq:>4} {r.time}  {r.event:<11} {r.actor}: {r.reason}")


def version_diff(a: str, b: str, state, ia, ib) -> None:
    table = Table(title=f"{a} vs {b}")
    for col in ("", a, b):
        table.add_column(col)
    va, vb = state.versions[a], state.versions[b]
    rows = [("status", va.status, vb.status), ("parent", va.parent, vb.parent), ("method", ia.method, ib.method)]
    for key in ("valid_loss", "train_loss", "steps", "margin_after", "seconds"):
        rows.append((f"training {key}", ia.metrics.get(key), ib.metrics.get(key)))
    fa = va.gate.figures if va.gate else {}
    fb = vb.gate.figures if vb.gate else {}
    for key in sorted(set(fa) | set(fb)):
        rows.append((f"gate {key}", fa.get(key), fb.get(key)))
    rows.append(("gate verdict", va.gate.passed if va.gate else None, vb.gate.passed if vb.gate else None))
    for kind in ("up", "down", "correction"):
        rows.append((f"feedback {kind}", va.feedback.get(kind, 0), vb.feedback.get(kind, 0)))
    for name, x, y in rows:
        table.add_row(name, number(x), number(y))
    console.print(table)


def audit_records(records: list, as_json: bool) -> None:
    for r in records:
        if as_json:
            say(json.dumps(r.model_dump(), ensure_ascii=False))
            continue
        data = {k: v for k, v in r.data.items() if k not in ("checks", "figures")}
        extra = " " + json.dumps(data, ensure_ascii=False) if data else ""
        say(f"{r.seq:>4} {r.time} {r.event:<11} {r.version or '-':<12} {r.actor}: {r.reason}{extra}")
        if r.event == "evaluated":
            from clonekit.contracts import GateVerdict

            say("     " + gate_text(GateVerdict.model_validate(r.data)).replace("\n", "\n     "))


def channels(rows, count) -> None:
    table = Table("channel", "consent", "messages", "changed by", "changed at")
    for ch, granted, by, at in rows:
        table.add_row(ch, "on" if granted else "off", str(count(ch)), by, at)
    console.print(table)


def hosted_plan(p) -> None:
    """The checked files, the tokens OpenAI bills and the estimated cost."""
    table = Table(title=f"hosted fine-tune of {p.target} on {p.model}")
    for col in ("file", "examples", "tokens", "longest example"):
        table.add_column(col, justify="left" if col == "file" else "right")
    for figures in (p.train, p.valid):
        if figures is not None:
            cells = (f"{figures.examples:,}", f"{figures.tokens:,}", f"{figures.longest:,}")
            table.add_row(str(figures.path), *cells)
    console.print(table)
    epochs = (
        f"{p.epochs}" if p.epochs_given else f"{p.epochs} (OpenAI chooses: `auto`; the estimate assumes {p.epochs})"
    )
    say(f"epochs: {epochs}")
    say(
        f"estimated cost: {p.train.tokens:,} training tokens x {p.epochs} epochs = {p.billed_tokens:,} tokens x "
        f"${p.price_per_1m:g} per 1M = [bold]${p.cost_usd:,.2f}[/] (prices: the hosted config's `models`)"
    )


def hosted_event(event) -> None:
    stamp = time.strftime("%H:%M:%S", time.localtime(event.created_at))
    console.print(f"{stamp} {event.level:<5} {event.message}", highlight=False, markup=False)


def hosted_job(job) -> None:
    say(f"job {job.id}: [bold]{job.status}[/] ({job.model})")
    if job.fine_tuned_model:
        say(f"fine-tuned model: {job.fine_tuned_model}; trained tokens: {job.trained_tokens}")
    if job.error and getattr(job.error, "message", None):
        say(f"[red]error[/]: {job.error.message} ({job.error.code})")


@contextmanager
def hosted_watch(job_id: str):
    """A progress line while a job runs: its status, steps and loss (from the metrics events); yields the
    callback `jobs.watch` calls after each look."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[detail]}"),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(job_id, total=None, detail="")

        def on_look(job, seen) -> None:
            loss = f", train loss {seen.train_loss:.4f}" if seen.train_loss is not None else ""
            step = f"step {seen.step}/{seen.total_steps or '?'}" if seen.step is not None else ""
            bar.update(task, description=f"{job_id}: {job.status}", total=seen.total_steps, completed=seen.step or 0,
                       detail=step + loss)  # fmt: skip

        yield on_look
