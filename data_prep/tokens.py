"""The default model's tokenizer, read from its GGUF file (no torch or transformers needed).

SmolLM2 uses a GPT-2 style byte-level BPE (GGUF `tokenizer.ggml.model = gpt2`, pre-tokenizer
`smollm`: digits split one by one, then byte-level). The converted tokenizer is cached as
tokenizer.json, keyed by the GGUF file's size and mtime.
"""

from __future__ import annotations

from pathlib import Path

from clonekit.errors import ClonekitError
from clonekit.paths import DEFAULT_MODEL_NAME, cache_dir, default_model_gguf


def default_tokenizer():
    from tokenizers import Tokenizer

    gguf_path = default_model_gguf()
    stat = gguf_path.stat()
    cached = cache_dir() / "tokenizers" / f"{DEFAULT_MODEL_NAME}-{stat.st_size}-{int(stat.st_mtime)}.json"
    if cached.exists():
        return Tokenizer.from_file(str(cached))
    tok = tokenizer_from_gguf(gguf_path)
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
