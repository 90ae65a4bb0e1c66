from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # every user path of a test goes to a temporary directory, the cache included
    monkeypatch.setenv("CLONEKIT_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
