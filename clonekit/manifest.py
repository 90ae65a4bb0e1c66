"""The adapter directory's files: `clonekit.json` (its model, `AdapterManifest`, is in clonekit/contracts.py),
PEFT's adapter_config.json and safetensors checks, and the sampling defaults (generation_config.json)."""

from __future__ import annotations

import json
from pathlib import Path

from clonekit.contracts import AdapterManifest, read_json
from clonekit.errors import ClonekitError

MANIFEST = "clonekit.json"
TEMPLATE_FILE = "chat_template.jinja"


def write_manifest(run_dir: Path, manifest: AdapterManifest) -> Path:
    return manifest.write(Path(run_dir) / MANIFEST)


def read_manifest(run_dir: str | Path) -> AdapterManifest:
    """The adapter's manifest, checked against `AdapterManifest` (a field missing or mistyped is named)."""
    path = Path(run_dir) / MANIFEST
    if not path.exists():
        raise ClonekitError(
            f"not a clonekit adapter directory (no {MANIFEST}); train one with `clonekit train`", run_dir
        )
    return AdapterManifest.load(path)


def read_adapter_config(run_dir: str | Path) -> dict:
    """PEFT's adapter_config.json, checked: a JSON object with an integer rank `r` and the LoRA target modules."""
    path = Path(run_dir) / "adapter_config.json"
    data = read_json(path)
    if not isinstance(data, dict):
        raise ClonekitError(f"must be a JSON object, not {type(data).__name__}", path)
    if not isinstance(data.get("r"), int) or data["r"] < 1 or not data.get("target_modules"):
        raise ClonekitError('is not a LoRA adapter config (needs an integer rank "r" and "target_modules")', path)
    return data


def safetensors_problem(path: str | Path) -> str | None:
    """Why a .safetensors file cannot be loaded, or None. Reads only the header: an 8-byte length, a JSON header of
    tensor offsets; the file must be exactly as long as the header says (a truncated copy is found here, before a
    server spends half a minute starting)."""
    import struct

    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                return f"{path.name} is truncated (no header)"
            (n,) = struct.unpack("<Q", head)
            if n > size - 8 or n > 100 << 20:
                return f"{path.name} is truncated or not a safetensors file (header length {n})"
            header = json.loads(f.read(n))
    except OSError as e:
        return f"{path.name} cannot be read ({e.strerror})"
    except (ValueError, UnicodeDecodeError):
        return f"{path.name} has a damaged header"
    if not isinstance(header, dict):
        return f"{path.name} has a damaged header"
    ends = [
        t["data_offsets"][1]
        for k, t in header.items()
        if k != "__metadata__" and isinstance(t, dict) and isinstance(t.get("data_offsets"), list)
    ]
    expected = 8 + n + max(ends, default=0)
    if size != expected:
        return f"{path.name} is truncated ({size:,} bytes, the header describes {expected:,})"
    return None


# Sampling defaults for a chatty clone, written as RUN/generation_config.json: vLLM applies them to every
# request (`--generation-config RUN`), and a request's own values override them. How they were chosen:
# scripts/choose_sampling.py on the demo clone (32 held-out contexts x 2 samples): greedy 28% degenerate replies;
# T 0.7 14%-12%; repetition_penalty 1.15 / 1.3 -> 64% / 98% of replies never stop (it also penalizes the
# end-of-turn token of every earlier turn); T 0.8, top_p 0.95, frequency_penalty 0.6 -> 2% degenerate, 0% hitting
# the limit, median 6 words (real replies: 7). See the README.
SAMPLING_DEFAULTS = {"temperature": 0.8, "top_p": 0.95, "frequency_penalty": 0.6, "max_new_tokens": 96}


def write_generation_config(run_dir: Path, eos_token_id: int, sampling: dict | None = None) -> Path:
    """Sampling defaults plus the end-of-turn token as eos, so generation stops where the target's turn ends."""
    path = Path(run_dir) / "generation_config.json"
    data = {**SAMPLING_DEFAULTS, **(sampling or {}), "do_sample": True, "eos_token_id": eos_token_id}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def parse_adapter_args(
    values: list[str], default_name: str | None = "clone", names: list[str] | None = None
) -> list[tuple[str, Path]]:
    """`--adapter NAME=RUN` options -> [(name, run dir)]. A bare RUN is `default_name` (an error when None); with
    `names`, NAME must be one of them (compare: an endpoint's name). Names are distinct."""
    out = []
    for v in values:
        name, sep, path = v.partition("=")
        if not sep and default_name is not None:
            name, path = default_name, v
        if not sep and default_name is None or not name or not path:
            raise ClonekitError(f"--adapter {v!r}: expected NAME=RUN" + (" or RUN" if default_name else ""))
        if names is not None and name not in names:
            raise ClonekitError(f"--adapter {v!r}: NAME must be one of {', '.join(names)}")
        out.append((name, Path(path)))
    given = [n for n, _ in out]
    if len(set(given)) != len(given):
        raise ClonekitError(f"--adapter names must be distinct (got {', '.join(given)}); use NAME=RUN")
    return out
