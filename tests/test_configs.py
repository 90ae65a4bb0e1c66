"""Every YAML under configs/ loads into its config model (recursively: none is skipped)."""

from pathlib import Path

import pytest

from clonekit.config import BotConfig, EvolveConfig, HostedConfig, PrepConfig, TrainConfig, load_config

CONFIGS_DIR = Path(__file__).parent.parent / "configs"
CONFIGS = sorted(CONFIGS_DIR.rglob("*.yaml"))


def model_for(path: Path):
    if path.parent.name == "accelerate":
        return "accelerate"
    if path.stem == "prep":
        return PrepConfig
    if path.stem == "bot":
        return BotConfig
    if path.stem == "evolve":
        return EvolveConfig
    if path.stem == "hosted":
        return HostedConfig
    if path.stem.startswith(("cpu-", "gpu-")):
        return TrainConfig
    return None


def test_there_are_configs():
    assert len(CONFIGS) >= 7


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(CONFIGS_DIR)))
def test_config_loads(path):
    assert path.read_text().startswith("#"), "every YAML starts with a comment saying what it is and how to run it"
    assert "Run:" in path.read_text().split("\n\n")[0] or "Run:" in path.read_text()[:600]
    model = model_for(path)
    assert model is not None, f"no config model for {path.name}"
    if model == "accelerate":
        from accelerate.commands.config.config_args import ClusterConfig

        ClusterConfig.from_yaml_file(str(path))
    else:
        load_config(model, path)
