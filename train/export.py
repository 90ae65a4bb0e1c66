"""`clonekit export RUN --format F -o OUT`: the clone where people run local models.

Formats:
- `hf`: the adapter merged into its base, as safetensors with the tokenizer and the training chat template
  (`chat_template.jinja`, which transformers and vLLM load with the folder).
- `gguf`: the merged model as one GGUF for llama.cpp, LM Studio and Ollama, at `f16`, `q8_0` or `q4_k_m`, with the
  chat template (names included) and the end-of-turn token in its metadata (train/gguf_export.py). `q4_k_m` is
  made from the f16 file by llama.cpp's own quantizer (llama-cpp-python, the `export` extra).

- `lora-gguf`: the adapter alone as a llama.cpp LoRA GGUF (`general.type = adapter`), for `llama-cli -m BASE.gguf
  --lora ADAPTER.gguf` and Ollama's `ADAPTER`; `--with-base` also writes the base model as a GGUF at `--quant`.
- `ollama`: a folder with the merged GGUF and a `Modelfile` (train/modelfile.py) for `ollama create` (and the GGUF
  alone for LM Studio, which reads the chat template from its metadata).

Every export writes a manifest beside it (`clonekit-export.json` in a folder, `FILE.gguf.json` beside a file): the
source run, the base and its hash, the format and the quantization.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from clonekit import __version__
from clonekit.contracts import AdapterManifest
from clonekit.errors import ClonekitError
from clonekit.extras import require
from clonekit.hashing import sha256_file
from clonekit.manifest import TEMPLATE_FILE, read_manifest

FORMATS = ("hf", "gguf", "lora-gguf", "ollama")
QUANTS = ("f16", "q8_0", "q4_k_m")
EXPORT_MANIFEST = "clonekit-export.json"


def export(
    run_dir: str | Path, fmt: str, out: str | Path, quant: str = "q8_0", log=print, with_base: bool = False
) -> Path:
    """Export the run; returns the written folder (`hf`, `ollama`) or file (`gguf`, `lora-gguf`)."""
    run, out = Path(run_dir), Path(out)
    if fmt not in FORMATS:
        raise ClonekitError(f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})")
    if fmt != "hf" and quant not in QUANTS:
        raise ClonekitError(f"unknown GGUF quantization {quant!r} (one of {', '.join(QUANTS)})")
    manifest = read_manifest(run)
    if fmt == "hf":
        path = _export_hf(run, out, log)
        files = [path / "model.safetensors"] if (path / "model.safetensors").exists() else []
        _write_manifest(path / EXPORT_MANIFEST, run, manifest, fmt, None, files)
        return path
    if fmt == "lora-gguf":
        return _export_lora_gguf(run, out, quant, manifest, with_base, log)
    if fmt == "ollama":
        return _export_ollama(run, out, quant, manifest, log)
    path = _export_gguf(run, out, quant, manifest, log)
    _write_manifest(path.with_name(path.name + ".json"), run, manifest, fmt, quant, [path])
    return path


def _export_lora_gguf(run: Path, out: Path, quant: str, manifest: AdapterManifest, with_base: bool, log) -> Path:
    import json

    from clonekit.train.base_models import base_of_run
    from clonekit.train.gguf_export import write_lora_gguf

    if out.suffix != ".gguf":
        out = out / f"{run.resolve().name}.lora.gguf"
    out.parent.mkdir(parents=True, exist_ok=True)
    _tokenizer_fields(_tokenizer(run), run)  # the base GGUF it applies to must be one clonekit can write
    base = base_of_run(run, manifest)
    bar = _progress("writing LoRA GGUF")
    with bar:
        task = bar.add_task("tensors", total=None)
        write_lora_gguf(
            run,
            json.loads((Path(base.path) / "config.json").read_text()),
            out,
            _clone_name(run, manifest) + " (LoRA)",
            lambda n, t: bar.update(task, completed=n, total=t),
        )
    files = [out]
    if with_base:
        files.append(_export_base_gguf(run, out.parent / f"base.{quant.upper()}.gguf", quant, manifest, base, log))
    _write_manifest(out.with_name(out.name + ".json"), run, manifest, "lora-gguf", quant if with_base else None, files)
    log(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB): llama.cpp `-m BASE.gguf --lora {out.name}`")
    return out


def _export_base_gguf(run: Path, out: Path, quant: str, manifest: AdapterManifest, base, log) -> Path:
    """The base the adapter was trained on, as a GGUF with the run's chat template (what `--lora` applies to)."""
    from clonekit.train.gguf_export import write_gguf

    tokenizer = _tokenizer(run)
    direct = "f16" if quant == "q4_k_m" else quant
    with tempfile.TemporaryDirectory(prefix="clonekit-export-") as tmp:
        target = out if quant == direct else Path(tmp) / "f16.gguf"
        write_gguf(
            Path(base.path),
            target,
            direct,
            (run / TEMPLATE_FILE).read_text(encoding="utf-8"),
            _end_of_turn(tokenizer, manifest),
            f"{base.id} (base of {_clone_name(run, manifest)})",
            _tokenizer_fields(tokenizer, run),
        )
        if quant != direct:
            _llama_quantize(target, out, quant)
    log(f"wrote the base model as {out} ({out.stat().st_size / 2**20:.1f} MiB)")
    return out


def _export_ollama(run: Path, out: Path, quant: str, manifest: AdapterManifest, log) -> Path:
    from clonekit.train.modelfile import modelfile

    out.mkdir(parents=True, exist_ok=True)
    gguf = _export_gguf(run, out / f"{run.resolve().name}.{quant.upper()}.gguf", quant, manifest, log)
    text = modelfile(run, manifest, gguf.name)
    (out / "Modelfile").write_text(text, encoding="utf-8")
    _write_manifest(out / EXPORT_MANIFEST, run, manifest, "ollama", quant, [gguf, out / "Modelfile"])
    log(f"wrote {out / 'Modelfile'}: `ollama create NAME -f {out / 'Modelfile'}`, then `ollama run NAME`")
    return out


def _tokenizer(run: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(run)


def _end_of_turn(tokenizer, manifest: AdapterManifest) -> Any:
    return tokenizer.convert_tokens_to_ids(manifest.end_of_turn or tokenizer.eos_token)


def _clone_name(run: Path, manifest: AdapterManifest) -> str:
    return f"clonekit clone of {manifest.dataset.target or run.name}"


def _export_hf(run: Path, out: Path, log) -> Path:
    """The merged model, generating until the end-of-turn token as the adapter does."""
    import json

    from clonekit.train.trainer import merge

    log(f"merging {run} into its base model -> {out}")
    path = merge(run, out)
    if (run / "generation_config.json").exists():
        generation = json.loads((run / "generation_config.json").read_text(encoding="utf-8"))
        (path / "generation_config.json").write_text(json.dumps(generation, indent=2), encoding="utf-8")
    return path


def _export_gguf(run: Path, out: Path, quant: str, manifest: AdapterManifest, log) -> Path:
    from clonekit.train.gguf_export import write_gguf

    if out.suffix != ".gguf":
        out = out / f"{run.resolve().name}.{quant.upper()}.gguf"
    out.parent.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer(run)
    fields = _tokenizer_fields(tokenizer, run)
    template = (run / TEMPLATE_FILE).read_text(encoding="utf-8")
    end_of_turn = _end_of_turn(tokenizer, manifest)
    name = _clone_name(run, manifest)
    with tempfile.TemporaryDirectory(prefix="clonekit-export-") as tmp:
        merged = _export_hf(run, Path(tmp) / "merged", log)
        direct = "f16" if quant == "q4_k_m" else quant
        target = out if quant == direct else Path(tmp) / "f16.gguf"
        bar = _progress(f"writing GGUF ({direct})")
        with bar:
            task = bar.add_task("tensors", total=None)
            write_gguf(
                merged,
                target,
                direct,
                template,
                end_of_turn,
                name,
                fields,
                lambda n, t: bar.update(task, completed=n, total=t),
            )
        if quant == "q4_k_m":
            log("quantizing to q4_k_m with llama.cpp")
            _llama_quantize(target, out, "q4_k_m")
    log(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB)")
    return out


def _tokenizer_fields(tokenizer, run: Path) -> list:
    """The GGUF tokenizer fields for the run's tokenizer: the bundled default model's (the tokenizer clonekit
    ships in GGUF form). Other tokenizers are not converted yet."""
    from clonekit import default_model

    default = default_model.tokenizer()
    if tokenizer.get_vocab() != default.get_vocab():
        raise ClonekitError(
            "GGUF export needs the base's tokenizer in GGUF form; clonekit has it for the bundled default model "
            "(and models with its tokenizer) only. Export `--format hf` and convert with llama.cpp's "
            "convert_hf_to_gguf.py",
            run,
        )
    return default_model.tokenizer_gguf_fields()


def _llama_quantize(src: Path, dst: Path, quant: str) -> None:
    require("llama_cpp", "export", "q4_k_m quantization (llama.cpp's quantizer)")
    import llama_cpp

    ftype = {"q4_k_m": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M, "q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0}[quant]
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    if llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), params) != 0:
        raise ClonekitError(f"llama.cpp could not quantize {src} to {quant}")


def _progress(label: str):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=Console(stderr=True)
    )


def _write_manifest(
    path: Path, run: Path, manifest: AdapterManifest, fmt: str, quant: str | None, files: list[Path]
) -> None:
    import json

    generation = {}
    if (run / "generation_config.json").exists():  # the clone's sampling defaults, for `clonekit serve --gguf`
        generation = json.loads((run / "generation_config.json").read_text(encoding="utf-8"))
    path.write_text(
        json.dumps(
            {
                "clonekit_version": __version__,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "source_run": str(run.resolve()),
                "base": {"id": manifest.base.id, "sha256": manifest.base.sha256},
                "format": fmt,
                "quantization": quant,
                "files": {f.name: sha256_file(f) for f in files if f.exists()},
                "generation": {k: v for k, v in generation.items() if k != "eos_token_id"},
            },
            indent=2,
        ),
        encoding="utf-8",
    )
