"""`clonekit train`, `train merge` and `export`: fine-tune an adapter, merge it, export it for local runtimes."""

from __future__ import annotations

from pathlib import Path

import typer

from clonekit.cli import render
from clonekit.cli.common import SET_OPT, app, console, err_console, user_errors
from clonekit.config import TrainConfig, field_help
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


DATA_OPT = typer.Option(
    None,
    "--data",
    help="sft: dataset directory from `clonekit prep build`; dpo: a pairs file, or a dataset directory with "
    "pairs.jsonl.",
)
FROM_OPT = typer.Option(
    None,
    "--from",
    help="Continue this adapter (its base and template; for dpo also the reference); default: a new adapter on the "
    "base.",
)


@train_app.callback()
@user_errors
def train_cmd(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", "-c", help="YAML with TrainConfig fields (configs/cpu-demo.yaml)."
    ),
    data: Path | None = DATA_OPT,
    out: Path | None = typer.Option(None, "--out", "-o", help="Adapter directory to write (the run)."),
    method: str = typer.Option(
        "sft", "--method", help="sft: learn the person's turns; dpo: preference pairs (`clonekit prep pairs`)."
    ),
    from_adapter: Path | None = FROM_OPT,
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
    from clonekit.config import apply_sets, load_config
    from clonekit.manifest import read_manifest
    from clonekit.train.methods import REPORTED, run_method

    cfg = apply_sets(load_config(TrainConfig, config, base=base, max_steps=max_steps), sets)
    log = lambda s: err_console.print(s, highlight=False)  # noqa: E731
    run = run_method(method, cfg, data, out, from_adapter, core, resume, show_progress=not quiet, log=log)
    if run is None:  # another rank of a distributed run: rank 0 reports
        return
    render.metrics_table(run, read_manifest(run).metrics, REPORTED[method])


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
