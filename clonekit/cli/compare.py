"""`clonekit compare` and `judge`: clones side by side, and blind judging by friends."""

from __future__ import annotations

from pathlib import Path

import typer

from clonekit.cli import render
from clonekit.cli.common import SET_OPT, app, console, model_option, user_errors
from clonekit.config import CompareSettings, field_help

ENDPOINT_OPT = typer.Option(
    ...,
    "--endpoint",
    "-e",
    help="NAME=BASE_URL,MODEL[,KEY_ENV] (repeatable), e.g. clone=http://127.0.0.1:8000/v1,clone or "
    "hosted=https://api.openai.com/v1,ft:gpt-4o-mini-...,OPENAI_API_KEY",
)
ADAPTER_LOSS_OPT = typer.Option(
    [],
    "--adapter",
    help="NAME=RUN: held-out loss of adapter RUN for endpoint NAME (and of its base for an endpoint serving the "
    "base). Repeatable.",
)
SELFPLAY_CHATS_OPT = typer.Option(
    ["100"],
    "--selfplay-chats",
    help="Self-play chats per endpoint for loop_rate: N for every endpoint, NAME=N for one (repeatable), e.g. "
    "--selfplay-chats 100 --selfplay-chats base=50.",
)
SPEAK_RUNS_OPT = typer.Option(
    [],
    "--speak",
    help="NAME=RUN: replay the held-out sessions through the bot with --speak auto for endpoint NAME, with the "
    "threshold RUN calibrated (speak AUC beside two baselines, reply rate, mentions answered). Repeatable.",
)


@app.command()
@user_errors
def compare(
    data: Path = typer.Option(
        ..., "--data", help="Dataset dir from `clonekit prep build` (its held-out sessions are asked)."
    ),
    endpoint: list[str] = ENDPOINT_OPT,
    out: Path = typer.Option(
        ..., "--out", "-o", help="Report directory (report.json, report.md, report.html, plots, A/B sheet)."
    ),
    limit: int | None = model_option(CompareSettings, "limit", min=1),
    adapter: list[str] = ADAPTER_LOSS_OPT,
    selfplay_chats: list[str] = SELFPLAY_CHATS_OPT,
    selfplay_turns: int = model_option(CompareSettings, "selfplay_turns", min=1),
    guarded: list[str] = typer.Option(
        [], "--guarded", help=field_help(CompareSettings, "guarded", "; repeatable; `--guarded none` for none")
    ),
    max_tokens: int = model_option(CompareSettings, "max_tokens", min=1),
    history_turns: int = model_option(CompareSettings, "history_turns", min=1),
    temperature: float | None = model_option(CompareSettings, "temperature"),
    concurrency: int = model_option(CompareSettings, "concurrency", min=1),
    ab: str | None = typer.Option(None, help="Endpoint for the blind A/B sheet (default: the first)."),
    speak: list[str] = SPEAK_RUNS_OPT,
    facts: Path | None = typer.Option(None, help=field_help(CompareSettings, "facts")),
    sets: list[str] | None = SET_OPT,
):
    """Compare clones side by side (hosted vs local, base vs adapter): style fidelity, lexical distance,
    relevance, repetition, loop_rate from self-play (plain client and through the bot's guard), cross-turn repeats,
    phrase over-use, guard rejections, latency and tokens/s, held-out loss, each with a 95 % bootstrap interval;
    real replies are the reference. Writes report.json, report.md, report.html with plots, and a blind A/B sheet."""
    from clonekit.compare.options import endpoints_and_settings
    from clonekit.compare.report import markdown_table, write_report
    from clonekit.compare.run import run_compare
    from clonekit.config import apply_sets

    endpoints, settings = endpoints_and_settings(
        endpoint, adapter, selfplay_chats, guarded, speak, ab,
        limit=limit, max_tokens=max_tokens, history_turns=history_turns, temperature=temperature,
        concurrency=concurrency, selfplay_turns=selfplay_turns, facts=str(facts) if facts else None,
    )  # fmt: skip
    settings = apply_sets(settings, sets)
    with render.progress_bars() as (progress, log):
        report, held, replies = run_compare(data, endpoints, settings, log=log, progress=progress)
    write_report(report, held, replies, out, ab_endpoint=ab)
    render.say(markdown_table(report))
    console.print(
        f"report: {out / 'report.html'} (and report.md, report.json, replies.jsonl, ab_sheet.md + ab_key.json)"
    )


@app.command()
@user_errors
def judge(
    report: Path = typer.Argument(..., help="A `clonekit compare` output directory (replies.jsonl)."),
    host: str = typer.Option("127.0.0.1", help="Address to bind; anything but loopback needs the link's token."),
    port: int = typer.Option(8377, help="Port."),
):
    """Blind judging by friends: a local page shows held-out chats with the real reply and a model's in random
    order; judges pick the real one or "can't tell". Votes go to REPORT/judge.sqlite; /results shows, per endpoint,
    how often judges found the real reply (50 % = indistinguishable) with a 95 % interval, per-judge agreement and
    a CSV. To share on your network: --host 0.0.0.0 and send friends the printed link (it carries the token)."""
    import socket

    from clonekit.compare.judge import JudgeServer

    server = JudgeServer(report, host, port)
    shown = host
    if host == "0.0.0.0":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.connect(("10.255.255.255", 1))
                shown = s.getsockname()[0]
            except OSError:
                shown = socket.gethostname()
    console.print(f"{len(server.items)} items to judge; open [bold]{server.link(shown)}[/]  (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
