"""The endpoint file of a finished hosted fine-tune, and its registry record: what `clonekit compare -e NAME=FILE`
and `clonekit chat|discord --endpoint FILE` read."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from clonekit.config import HostedConfig
from clonekit.contracts import EndpointFile
from clonekit.errors import ClonekitError


def default_path(job_id: str) -> Path:
    return Path("hosted") / f"{job_id}.endpoint.json"


def write_endpoint(job: Any, cfg: HostedConfig, out: Path | None, dataset_sha256: str | None) -> Path:
    """The endpoint file of a succeeded job (its fine-tuned model on the API's base URL, the key's variable)."""
    if job.status != "succeeded" or not job.fine_tuned_model:
        raise ClonekitError(f"job {job.id} has no fine-tuned model (status {job.status})")
    path = Path(out) if out is not None else default_path(job.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    endpoint = EndpointFile(
        base_url=cfg.base_url,
        model=job.fine_tuned_model,
        key_env=cfg.api_key_env,
        job_id=job.id,
        dataset_sha256=dataset_sha256,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    return endpoint.write(path)


def record_in_registry(registry: Path, job: Any, cfg: HostedConfig, dataset_sha256: str, actor: str | None) -> str:
    """The hosted model as an external version of the registry, with its job id and the dataset's hash."""
    from clonekit.registry import Registry

    return Registry(registry).register_external(
        job.fine_tuned_model, cfg.base_url, job.id, dataset_sha256, actor, reason=f"hosted fine-tune {job.id}"
    )
