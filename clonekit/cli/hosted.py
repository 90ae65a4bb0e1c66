"""`clonekit hosted finetune|status|cancel`: the same clone fine-tuned on OpenAI from the same dataset."""

from __future__ import annotations

from pathlib import Path

import typer

from clonekit.cli import render
from clonekit.cli.common import ACTOR_OPT, SET_OPT, app, console, err_console, model_option, user_errors
from clonekit.config import HostedConfig
from clonekit.errors import ClonekitError

hosted_app = typer.Typer(
    help="Fine-tune the clone on OpenAI from the same dataset (validation, token count and cost first; nothing is "
    "sent without --yes or your confirmation), watch the job, write an endpoint file for compare and chat.",
    no_args_is_help=True,
)
app.add_typer(hosted_app, name="hosted")
CONFIG_OPT = typer.Option(None, "--config", "-c", help="YAML with HostedConfig fields (configs/hosted.yaml).")
OUT_OPT = typer.Option(
    None, "--out", "-o", help="The endpoint file to write when the job succeeds (default: hosted/JOB.endpoint.json)."
)
REGISTRY_OPT = typer.Option(
    None, "--registry", "-r", help="Record the hosted model in this registry as an external version."
)


def _config(config: Path | None, sets: list[str] | None, **options) -> HostedConfig:
    from clonekit.config import apply_sets, load_config

    return apply_sets(load_config(HostedConfig, config, **options), sets)


@hosted_app.command("finetune")
@user_errors
def hosted_finetune(
    dataset: Path = typer.Argument(..., help="A dataset directory from `clonekit prep build` (openai_*.jsonl)."),
    model: str | None = model_option(HostedConfig, "model", "--model"),
    epochs: int | None = model_option(HostedConfig, "epochs", "--epochs"),
    suffix: str | None = model_option(HostedConfig, "suffix", "--suffix"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check the files and print the estimate; send nothing."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Send without asking (after the estimate is printed)."),
    out: Path | None = OUT_OPT,
    registry: Path | None = REGISTRY_OPT,
    config: Path | None = CONFIG_OPT,
    actor: str | None = ACTOR_OPT,
    sets: list[str] | None = SET_OPT,
):
    """Check both OpenAI files against OpenAI's rules and the model's per-example limit (tiktoken), print the tokens,
    epochs and estimated cost; then upload them, create the job and watch it (Ctrl-C detaches; the job goes on)."""
    from clonekit.hosted import jobs
    from clonekit.hosted.plan import plan

    cfg = _config(config, sets, model=model, epochs=epochs, suffix=suffix)
    if registry is not None:  # checked before anything is sent, not after the job
        from clonekit.registry import Registry

        Registry(registry).require()
    found = plan(dataset, cfg)
    render.hosted_plan(found)
    if dry_run:
        console.print("dry run: nothing was sent")
        return
    if not yes and not typer.confirm(f"send {found.train.examples} examples to {cfg.base_url} and start the job?"):
        console.print("nothing was sent")
        raise typer.Exit(1)
    api = jobs.client(cfg)
    job = jobs.start(api, found, cfg, lambda s: err_console.print(s, highlight=False))
    _watch(api, job.id, cfg, out, registry, actor)


@hosted_app.command("status")
@user_errors
def hosted_status(
    job_id: str = typer.Argument(..., help="The job id (ftjob-...)."),
    watch: bool = typer.Option(False, "--watch", "-w", help="Watch the job until it ends (Ctrl-C detaches)."),
    out: Path | None = OUT_OPT,
    registry: Path | None = REGISTRY_OPT,
    config: Path | None = CONFIG_OPT,
    actor: str | None = ACTOR_OPT,
    sets: list[str] | None = SET_OPT,
):
    """A job's status, events and metrics; with --watch, until it ends (and then its endpoint file)."""
    from clonekit.hosted import jobs

    cfg = _config(config, sets)
    api = jobs.client(cfg)
    if watch:
        _watch(api, job_id, cfg, out, registry, actor)
        return
    job = jobs.look(api, job_id, jobs.Progress(), render.hosted_event)
    render.hosted_job(job)
    if job.status == "succeeded":
        _finish(job, cfg, out, registry, actor)


@hosted_app.command("cancel")
@user_errors
def hosted_cancel(
    job_id: str = typer.Argument(..., help="The job id (ftjob-...)."),
    config: Path | None = CONFIG_OPT,
    sets: list[str] | None = SET_OPT,
):
    """Cancel a running job."""
    from clonekit.hosted import jobs

    cfg = _config(config, sets)
    job = jobs.cancel(jobs.client(cfg), job_id)
    render.hosted_job(job)


def _watch(api, job_id: str, cfg: HostedConfig, out: Path | None, registry: Path | None, actor: str | None) -> None:
    from clonekit.hosted import jobs

    try:
        with render.hosted_watch(job_id) as on_look:
            job = jobs.watch(api, job_id, render.hosted_event, on_look, cfg.poll_seconds)
    except KeyboardInterrupt:
        err_console.print(
            f"detached: job {job_id} goes on. `clonekit hosted status {job_id} --watch` watches it again, "
            f"`clonekit hosted cancel {job_id}` stops it."
        )
        raise typer.Exit(130) from None
    render.hosted_job(job)
    if job.status != "succeeded":
        raise typer.Exit(1)
    _finish(job, cfg, out, registry, actor)


def _finish(job, cfg: HostedConfig, out: Path | None, registry: Path | None, actor: str | None) -> None:
    from clonekit.hosted.endpoint import record_in_registry, write_endpoint

    dataset_sha = (job.metadata or {}).get("clonekit_dataset_sha256")
    path = write_endpoint(job, cfg, out, dataset_sha)
    console.print(f"endpoint file: {path}  (`clonekit compare -e hosted={path}`, `clonekit chat --endpoint {path}`)")
    if registry is not None:
        if not dataset_sha:
            raise ClonekitError(f"job {job.id} carries no dataset hash (not started by clonekit): not recorded")
        vid = record_in_registry(registry, job, cfg, dataset_sha, actor)
        console.print(f"registry {registry}: {vid} records {job.fine_tuned_model} (external)")
