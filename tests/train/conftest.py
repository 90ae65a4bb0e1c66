import pytest

from clonekit.train.template import load_template
from clonekit.train.tiny import default_hf_tokenizer


@pytest.fixture(scope="module")
def tok():
    """The default model's tokenizer (one per test module: trainers may set its pad token)."""
    return default_hf_tokenizer()


@pytest.fixture(scope="module")
def template(tok):
    return load_template("auto", tok)
