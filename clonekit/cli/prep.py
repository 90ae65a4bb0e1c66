"""`clonekit sample` and `clonekit prep ...`: sample exports, parse, people, build, pairs, stats."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from clonekit.cli import render
from clonekit.cli.common import SET_OPT, app, console, err_console, user_errors
from clonekit.config import PrepConfig, field_help
from clonekit.errors import ClonekitError


@app.command()
@user_errors
def sample(
    out: Path = typer.Option(..., "-o", "--out", help="Directory to write the sample exports into."),
    corpus: str = typer.Option(
        "group",
        help="group: the realistic 5-person group chat (~8,300 messages over 24 "
        "weeks, target Maya); small: the 4-person chat used by fast tests (target Deniz).",
    ),
    seed: int = typer.Option(7, help="Random seed: the same seed writes the same chat."),
    weeks: int | None = typer.Option(
        None, min=1, max=104, help="How many weeks of chat (default: 24 for group, 6 for small)."
    ),
):
    """Write a sample group chat as WhatsApp, Discord and Telegram exports, plus sample.json."""
    from clonekit.samples.exports import CORPORA, write_sample

    if corpus not in CORPORA:
        raise ClonekitError(f"--corpus {corpus!r}: choose one of {', '.join(CORPORA)}")
    info = write_sample(out, seed=seed, weeks=weeks, corpus=corpus)
    console.print(f"wrote {info['messages']} messages by {', '.join(info['people'])} to {out}/")
    for platform, name in info["files"].items():
        console.print(f"  {platform:9} {out / name}")
    console.print(f"default target: [bold]{info['target']}[/]  (see {out / 'sample.json'})")


prep_app = typer.Typer(
    help="Prepare data: parse exports, list people, build datasets, show stats.", no_args_is_help=True
)
app.add_typer(prep_app, name="prep")


@prep_app.command("parse")
@user_errors
def prep_parse(
    files: list[Path] = typer.Argument(
        ...,
        help="Export files: WhatsApp .txt/.zip; DiscordChatExporter .json/.csv/.html; Discord data package (folder "
        "or .zip); Telegram result.json or messages.html (or its folder); Messenger/Instagram message_N.json; "
        "iMessage chat.db; SMS Backup & Restore .xml; signal-export chat.md/data.json; Slack export (zip or "
        "folder); LINE .txt; WeChat .csv; QQ .txt. See the README's table of sources.",
    ),
    out: Path = typer.Option(..., "-o", "--out", help="Output messages.jsonl."),
    format: str = typer.Option(
        "auto",
        "--format",
        help="auto | whatsapp | discord | telegram | messenger | instagram | imessage | sms | signal | slack | "
        "line | wechat | qq",
    ),
    dayfirst: bool | None = typer.Option(
        None, "--dayfirst/--monthfirst", help="WhatsApp date order when the file cannot tell (no day above 12)."
    ),
    self_name: str | None = typer.Option(
        None,
        help="Your name where the export does not write it: Discord data package (default: the account's), "
        "iMessage, SMS, Signal and WeChat (default: Me).",
    ),
    workers: int | None = typer.Option(None, min=1, help="Processes for large WhatsApp files (default: cores, max 4)."),
    max_unzipped_mb: int = typer.Option(2048, min=1, help="A zip export may unzip to at most this many MiB."),
):
    """Parse chat exports into normalized messages (one JSON object per line) and report what was kept.

    Messages are sorted by time within each file, and messages read twice (the same export given twice, or two
    exports of one chat that overlap) are skipped as duplicates."""
    from clonekit.data_prep.parse import ParseOptions, parse_exports

    report = parse_exports(
        files,
        out,
        ParseOptions(format, dayfirst, self_name, workers, max_unzipped_mb),
        progress=lambda s: err_console.print(f"parsing {s}", highlight=False),
    )
    render.parse_report(report, out)


@prep_app.command("people")
@user_errors
def prep_people(
    messages: Path = typer.Argument(..., help="messages.jsonl from `clonekit prep parse`."),
    alias: list[str] = typer.Option([], "--alias", help="Merge identities: OLD=NEW (names or author ids). Repeatable."),
    config: Path | None = typer.Option(
        None, "--config", "-c", help="A prep config whose `aliases` are applied (configs/prep.yaml)."
    ),
    limit: int = typer.Option(50, help="Show at most this many people."),
):
    """List the people in the messages with their counts, to choose the target (and whom to exclude), and propose
    who is the same person across apps (same phone, email or name; first name and initials), as `aliases:` lines
    to confirm in the prep config."""
    from clonekit.config import load_config
    from clonekit.data_prep.people import parse_alias, scan_people
    from clonekit.data_prep.person_match import aliases_yaml, propose_matches

    if not messages.exists():
        raise ClonekitError("file not found", messages)
    aliases = dict(load_config(PrepConfig, config).aliases) if config else {}
    aliases.update(parse_alias(a) for a in alias)
    found = scan_people(messages, aliases)
    proposals = propose_matches(found)
    render.people(found, proposals, messages, limit, aliases_yaml(proposals[:limit]))


@prep_app.command("build")
@user_errors
def prep_build(
    messages: Path = typer.Argument(..., help="messages.jsonl from `clonekit prep parse`."),
    out: Path = typer.Option(..., "-o", "--out", help="Output dataset directory."),
    target: str | None = typer.Option(None, "--target", "-t", help=field_help(PrepConfig, "target")),
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML with PrepConfig fields (configs/prep.yaml)."),
    exclude: list[str] = typer.Option([], "--exclude", help=field_help(PrepConfig, "exclude", "; repeatable")),
    alias: list[str] = typer.Option([], "--alias", help="Merge identities: OLD=NEW. Repeatable."),
    gap_minutes: float | None = typer.Option(None, help=field_help(PrepConfig, "session_gap_minutes")),
    media: str | None = typer.Option(None, help=field_help(PrepConfig, "media")),
    valid_fraction: float | None = typer.Option(None, help=field_help(PrepConfig, "valid_fraction")),
    include_bots: bool | None = typer.Option(
        None, "--include-bots/--no-bots", help=field_help(PrepConfig, "include_bots")
    ),
    redact: bool = typer.Option(
        True, "--redact/--no-redact", help="Replace emails, phones, links, IBANs, cards, SSNs, IPs, long numbers."
    ),
    sets: list[str] | None = SET_OPT,
):
    """Build train/valid datasets (HF chat format and OpenAI fine-tuning format) for one target person."""
    from clonekit.config import apply_sets, load_config
    from clonekit.data_prep.build import build_datasets
    from clonekit.data_prep.options import with_options

    cfg = with_options(
        load_config(PrepConfig, config),
        target=target,
        gap_minutes=gap_minutes,
        media=media,
        valid_fraction=valid_fraction,
        include_bots=include_bots,
        exclude=exclude,
        aliases=alias,
        redact=redact,
    )
    cfg = apply_sets(cfg, sets)
    with Progress(
        TextColumn("building"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("build", total=messages.stat().st_size if messages.exists() else 1)
        manifest = build_datasets(messages, out, cfg, progress=lambda done, total: bar.update(task, completed=done))
    render.build_summary(manifest, out)


@prep_app.command("pairs")
@user_errors
def prep_pairs(
    data: Path = typer.Argument(..., help="Dataset directory from `clonekit prep build`."),
    out: Path | None = typer.Option(None, "-o", "--out", help="Pairs file to write (default DATA/pairs.jsonl)."),
    max_pairs: int = typer.Option(2000, "--max-pairs", min=1, help="At most this many pairs, spread over the history."),
):
    """Preference pairs against loops, for `clonekit train --method dpo`: the person's real reply (chosen) over a
    copy of their previous reply or their most over-used one (rejected). Format: clonekit/pairs.py."""
    from clonekit.data_prep.pairs import write_pairs

    summary = write_pairs(data, out, max_pairs)
    render.pairs_summary(summary)


@prep_app.command("stats")
@user_errors
def prep_stats(
    dataset: Path = typer.Argument(..., help="A dataset directory from `clonekit prep build`."),
    tokens: bool = typer.Option(True, "--tokens/--no-tokens", help="Count tokens with the default model's tokenizer."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
):
    """Per-person statistics: messages, sessions, tokens, median length, emoji / lowercase / punctuation rates."""
    from clonekit.data_prep.stats import compute_stats

    tokenizer = None
    if tokens:
        from clonekit import default_model

        tokenizer = default_model.tokenizer()
    stats = compute_stats(dataset, tokenizer)
    if json_out:
        console.print_json(json.dumps(stats.people, ensure_ascii=False))
        return
    render.stats(stats, dataset, tokenizer is not None)
