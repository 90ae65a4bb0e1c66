"""The command line's help is the config models' documentation: every option that sets a field of a stage's
config shows that field's description and the model's default, and `--set` reaches any field."""

import pytest
import typer.main
from typer.testing import CliRunner

from clonekit.cli import app
from clonekit.config import (
    BotConfig,
    CompareSettings,
    HostedConfig,
    PrepConfig,
    ServeConfig,
    TrainConfig,
    field_help,
)

# command path -> (the model its options set, option name -> field where the names differ)
BOUND = {
    ("prep", "build"): (PrepConfig, {"gap_minutes": "session_gap_minutes", "redact": ""}),  # on/off: all types
    ("chat",): (BotConfig, {"quiet": "quiet_seconds", "name": "clone_name", "speak": "mode"}),
    ("discord",): (BotConfig, {"speak": "mode"}),
    ("compare",): (CompareSettings, {"selfplay_chats": ""}),  # N or NAME=N: both selfplay_chats fields
    ("train",): (TrainConfig, {}),
    ("serve",): (ServeConfig, {"adapter": "adapters"}),
    ("hosted", "finetune"): (HostedConfig, {}),
}


def _command(path: tuple[str, ...]):
    cmd = typer.main.get_command(app)
    for name in path:
        assert hasattr(cmd, "commands")
        cmd = cmd.commands[name]
    return cmd


def _all_commands(cmd, path=()):
    yield path, cmd
    if hasattr(cmd, "commands"):
        for name, sub in cmd.commands.items():
            yield from _all_commands(sub, (*path, name))


def test_every_command_and_option_has_help():
    for path, cmd in _all_commands(typer.main.get_command(app)):
        assert cmd.help or cmd.short_help, f"`clonekit {' '.join(path)}` has no help"
        for param in cmd.params:
            if param.param_type_name == "option" and param.name != "help":
                assert param.help, f"`clonekit {' '.join(path)} {param.opts[0]}` has no help"


@pytest.mark.parametrize("path", list(BOUND), ids=" ".join)
def test_options_that_set_a_field_show_its_description_and_default(path):
    schema, renamed = BOUND[path]
    found = 0
    for param in _command(path).params:
        if param.param_type_name != "option":
            continue
        field = renamed.get(param.name, param.name)
        if field not in schema.model_fields:
            continue
        found += 1
        description = (schema.model_fields[field].description or "").rstrip(".")
        assert description, f"{schema.__name__}.{field} has no description"
        assert description[1:] in param.help, f"{param.opts[0]}: help is not {schema.__name__}.{field}'s description"
        default = schema.model_fields[field].get_default(call_default_factory=True)
        if param.default not in (None, []):  # an override option (nothing given: the config's value) or the default
            assert param.default == default, f"{param.opts[0]}: default {param.default!r}, the model says {default!r}"
        if default not in (None, [], {}):
            assert f"default: {default}" in param.help or param.help == field_help(schema, field), param.opts[0]
    assert found, f"no option of `clonekit {' '.join(path)}` sets a {schema.__name__} field"


def test_set_overrides_any_field_and_names_a_wrong_one(tmp_path):
    from clonekit.config import apply_sets

    cfg = apply_sets(PrepConfig(), ["memory.top_k=8", "valid_fraction=0.2", "exclude=[a, b]"])
    assert (cfg.memory.top_k, cfg.valid_fraction, cfg.exclude) == (8, 0.2, ["a", "b"])
    result = CliRunner().invoke(
        app, ["prep", "build", str(tmp_path / "m.jsonl"), "-o", str(tmp_path), "--set", "nope=1"]
    )
    assert result.exit_code == 2
    assert "PrepConfig has no field 'nope'" in result.output
    result = CliRunner().invoke(
        app, ["prep", "build", str(tmp_path / "m.jsonl"), "-o", str(tmp_path), "--set", "valid_fraction=lots"]
    )
    assert result.exit_code == 2
    assert "valid_fraction" in result.output


def test_the_cli_reference_page_is_generated_from_the_cli():
    import runpy
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "scripts" / "cli_reference.py"
    reference = runpy.run_path(str(script))["reference"]()
    assert reference == (script.parent.parent / "docs" / "cli.md").read_text(encoding="utf-8"), (
        "docs/cli.md is stale: run `python scripts/cli_reference.py`"
    )
    assert "## `clonekit prep build`" in reference
    assert "`--set`" in reference
