"""`clonekit train`, `train merge` and `export`: fine-tune an adapter, merge it, export it for local runtimes."""

from __future__ import annotations

from pathlib import Path

import typer

from clonekit.cli import render
from clonekit.cli.common import SET_OPT, app, console, err_console, user_errors
from clonekit.config import TrainConfig, field_help
from clonekit.dataset import TRAIN_FILE
from clonekit.errors import ClonekitError

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
    base: str | None = typer.Option(None, help=field_help(TrainConfig, "base")),
    max_steps: int | None = typer.Option(None, help=field_help(TrainConfig, "max_steps")),
    resume: bool = typer.Option(False, "--resume", help="Continue a killed run from its last checkpoint in OUT."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    sets: list[str] | None = SET_OPT,
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
    from clonekit.config import TrainConfig, apply_sets, load_config

    if core is not None and method == "sft":
        from clonekit.readonly_core import dataset_core_problem, read_core

        found = dataset_core_problem(read_core(core)[0], data)
        if found:
            raise ClonekitError(found[0], data / TRAIN_FILE, found[1])

    cfg = apply_sets(load_config(TrainConfig, config, base=base, max_steps=max_steps), sets)
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

    render.metrics_table(run, read_manifest(run).metrics, keys)


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
