"""The default model's tokenizer without its weights: a tokenizer-only GGUF (what scripts/gpu_check.sh carries to a
machine where the 98 MB model cannot be installed) gives the same token ids."""

import pytest

from clonekit import default_model
from clonekit.errors import ClonekitError

TEXTS = [
    "<|im_start|>system\nYou are Maya.<|im_end|>\n<|im_start|>user name=Deniz\nnaber abi 12:45?<|im_end|>\n",
    "ngl that's so good lol 😂😂 see u at 7.30",
    "Çok güzel! İstanbul'da mıyız? ünïcödé — “quotes” 12345678",
]


@pytest.mark.slow  # parses the 49k-token vocabulary from GGUF twice (~10 s)
def test_the_tokenizer_only_gguf_gives_the_same_ids(tmp_path, monkeypatch):
    small = default_model.write_tokenizer_gguf(tmp_path / "tokenizer.gguf")
    assert small.stat().st_size < 3 * 2**20
    full = default_model.tokenizer_from_gguf(default_model.gguf_path())
    monkeypatch.setenv(default_model.TOKENIZER_ENV, str(small))
    monkeypatch.setenv("CLONEKIT_CACHE", str(tmp_path / "cache"))
    assert default_model.tokenizer_gguf_path() == small
    only = default_model.tokenizer()
    for text in TEXTS:
        assert only.encode(text).ids == full.encode(text).ids
    assert only.get_vocab_size() == full.get_vocab_size()


def test_a_missing_tokenizer_gguf_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv(default_model.TOKENIZER_ENV, str(tmp_path / "nope.gguf"))
    with pytest.raises(ClonekitError, match="names no file"):
        default_model.tokenizer_gguf_path()
