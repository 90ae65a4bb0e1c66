"""A fine-tuning job on OpenAI's API, through the official `openai` client: the two files uploaded, the job created,
watched (its events and metrics, until it succeeds, fails or is cancelled), looked at again later, cancelled.

Only the documented endpoints are used: POST /v1/files, POST /v1/fine_tuning/jobs, GET /v1/fine_tuning/jobs/{id},
GET /v1/fine_tuning/jobs/{id}/events, POST /v1/fine_tuning/jobs/{id}/cancel. The key comes from the environment
variable the config names (OPENAI_API_KEY), never from the command line."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clonekit.config import HostedConfig
from clonekit.errors import ClonekitError
from clonekit.extras import require
from clonekit.hosted.plan import HostedPlan

TERMINAL = ("succeeded", "failed", "cancelled")


def client(cfg: HostedConfig):
    """The official client on `cfg.base_url`, its key from `cfg.api_key_env`."""
    openai = require("openai", "hosted", "OpenAI fine-tuning (`clonekit hosted`)")
    key = os.environ.get(cfg.api_key_env)
    if not key:
        raise ClonekitError(f"no API key: set ${cfg.api_key_env} (the key is never taken from the command line)")
    return openai.OpenAI(base_url=cfg.base_url, api_key=key, max_retries=2)


def api_errors(fn):
    """The client's errors (refused, unauthorized, unreachable) as one clear line each."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import openai

        try:
            return fn(*args, **kwargs)
        except openai.APIStatusError as e:
            raise ClonekitError(f"the API refused ({e.status_code}): {_message(e)}") from None
        except openai.APIConnectionError as e:
            raise ClonekitError(f"the API cannot be reached: {e}") from None

    return wrapper


def _message(e) -> str:
    body = e.body if isinstance(e.body, dict) else {}
    return str((body.get("error") or body).get("message") or e.message)


@api_errors
def start(api, p: HostedPlan, cfg: HostedConfig, log: Callable[[str], None]) -> Any:
    """Upload the files and create the job; the job as the API returned it."""
    ids = {}
    for name, figures in (("training", p.train), ("validation", p.valid)):
        if figures is None:
            continue
        with open(figures.path, "rb") as f:
            uploaded = api.files.create(file=f, purpose="fine-tune")
        ids[name] = uploaded.id
        log(f"uploaded {figures.path} as {uploaded.id} ({uploaded.bytes:,} bytes)")
    method: dict[str, Any] = {"type": "supervised"}
    if cfg.epochs is not None:
        method["supervised"] = {"hyperparameters": {"n_epochs": cfg.epochs}}
    job = api.fine_tuning.jobs.create(
        model=p.model,
        training_file=ids["training"],
        validation_file=ids.get("validation"),
        suffix=cfg.suffix,
        method=method,
        metadata={"clonekit_dataset_sha256": p.dataset_sha256, "clonekit_target": p.target[:512]},
    )
    log(f"created job {job.id} ({job.status})")
    return job


@dataclass
class Progress:
    """What watching has seen: events (once each), the latest metrics."""

    seen: set[str] = field(default_factory=set)
    step: int | None = None
    total_steps: int | None = None
    train_loss: float | None = None
    valid_loss: float | None = None


@api_errors
def look(api, job_id: str, seen: Progress, on_event: Callable[[Any], None]) -> Any:
    """The job now, after handing every event not seen yet to `on_event`, oldest first."""
    job = api.fine_tuning.jobs.retrieve(job_id)
    page = api.fine_tuning.jobs.list_events(job_id, limit=100)  # newest first
    for event in reversed(page.data):
        if event.id in seen.seen:
            continue
        seen.seen.add(event.id)
        if event.type == "metrics" and isinstance(event.data, dict):
            data = event.data
            seen.step = data.get("step", seen.step)
            seen.total_steps = data.get("total_steps", seen.total_steps)
            seen.train_loss = data.get("train_loss", seen.train_loss)
            seen.valid_loss = data.get("valid_loss", seen.valid_loss)
        on_event(event)
    return job


def watch(
    api,
    job_id: str,
    on_event: Callable[[Any], None],
    on_look: Callable[[Any, Progress], None],
    poll_seconds: float,
    sleep: Callable[[float], None] | None = None,
) -> Any:
    """Look at the job every `poll_seconds` until it ends; the final job. Ctrl-C (KeyboardInterrupt) goes to the
    caller: watching stops, the job goes on."""
    seen = Progress()
    while True:
        job = look(api, job_id, seen, on_event)
        on_look(job, seen)
        if job.status in TERMINAL:
            return job
        (sleep or time.sleep)(poll_seconds)


@api_errors
def cancel(api, job_id: str) -> Any:
    return api.fine_tuning.jobs.cancel(job_id)


@api_errors
def retrieve(api, job_id: str) -> Any:
    return api.fine_tuning.jobs.retrieve(job_id)
