"""Every YAML under configs/ loads into its config model (recursively: none is skipped)."""

from pathlib import Path

import pytest

from clonekit.config import PrepConfig, load_config

CONFIGS = sorted((Path(__file__).parent.parent / "configs").rglob("*.yaml"))
MODELS = {"prep": PrepConfig}


def test_there_are_configs():
    assert CONFIGS


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_config_loads(path):
    assert path.read_text().startswith("#"), "every YAML starts with a comment saying what it is and how to run it"
    kind = path.stem.split("-")[0]
    model = MODELS.get(kind)
    assert model is not None, f"no config model for {path.name}"
    load_config(model, path)
