"""The CLI through typer's runner, every user path in a temporary directory."""

import json
import re

import pytest
from typer.testing import CliRunner

from clonekit.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_sample_parse_people_build_stats(tmp_path):
    r = invoke("sample", "-o", tmp_path / "s", "--weeks", "4")  # four weeks of the group chat: the whole prep, quickly
    assert r.exit_code == 0, r.output
    info = json.loads((tmp_path / "s/sample.json").read_text())
    exports = [tmp_path / "s" / f for f in info["files"].values()]
    r = invoke("prep", "parse", exports[2], "-o", tmp_path / "m.jsonl")
    assert r.exit_code == 0
    assert "read" in r.output
    assert "kept" in r.output
    r = invoke("prep", "people", tmp_path / "m.jsonl")
    assert r.exit_code == 0
    assert "Deniz" in r.output
    assert "Oliver" in r.output
    r = invoke(
        "prep",
        "build",
        tmp_path / "m.jsonl",
        "--target",
        info["target"],
        "--exclude",
        "Priya",
        "--config",
        "configs/prep.yaml",
        "--set",
        "memory.enabled=false",  # memory has tests of its own (tests/data_prep/test_memory_build.py)
        "-o",
        tmp_path / "ds",
    )
    assert r.exit_code == 0, r.output
    assert "excluded" in r.output
    assert (tmp_path / "ds/train.jsonl").exists()
    assert not (tmp_path / "ds/memory.sqlite").exists()  # --set reached the config
    manifest = json.loads((tmp_path / "ds/manifest.json").read_text())
    assert manifest["config"]["exclude"] == ["<excluded>"]  # how many, not who: not even a hash of the name
    assert "Priya" not in (tmp_path / "ds/manifest.json").read_text()
    assert manifest["target"] == "Maya"  # the group corpus's target: the lowercase "lol" writer
    r = invoke("prep", "stats", tmp_path / "ds")
    assert r.exit_code == 0, r.output
    assert "Maya" in r.output
    assert "Priya" not in r.output
    assert "leakage:" in r.output
    assert "validation target replies appear verbatim in train" in r.output
    r = invoke("sample", "-o", tmp_path / "small", "--corpus", "small")
    assert r.exit_code == 0
    assert "default target: Deniz" in r.output
    r = invoke("sample", "-o", tmp_path / "x", "--corpus", "huge")
    assert r.exit_code == 2
    assert "choose one of group, small" in r.output


def test_user_errors_are_one_line_not_a_traceback(tmp_path, fixtures):
    for args in (
        ["prep", "parse", fixtures / "unknown.txt", "-o", tmp_path / "x.jsonl"],
        ["prep", "parse", fixtures / "discord/truncated.json", "-o", tmp_path / "x.jsonl"],
        ["prep", "parse", tmp_path / "missing.txt", "-o", tmp_path / "x.jsonl"],
        ["prep", "people", tmp_path / "missing.jsonl"],
        ["prep", "stats", tmp_path],
    ):
        r = invoke(*args)
        assert r.exit_code == 2, (args, r.output)
        assert "error:" in r.output
        assert "Traceback" not in r.output


def test_paths_are_one_clear_error(tmp_path, fixtures):
    invoke("prep", "parse", fixtures / "telegram/result.json", "-o", tmp_path / "m.jsonl")
    (tmp_path / "afile").write_text("x")
    cases = [
        (["prep", "parse", fixtures / "telegram/result.json", "-o", tmp_path], "is a folder"),
        (["prep", "parse", fixtures / "telegram/result.json", "-o", tmp_path / "afile/m.jsonl"], "is a file"),
        (["prep", "build", tmp_path / "m.jsonl", "--target", "Deniz", "-o", tmp_path / "afile"], "is a file"),
        (["prep", "build", tmp_path, "--target", "Deniz", "-o", tmp_path / "ds"], "is a folder"),
        (["train", "--data", tmp_path / "ds", "--out", tmp_path / "afile"], "is a file"),
    ]
    for args, message in cases:
        r = invoke(*args)
        assert r.exit_code == 2, (args, r.output)
        assert re.search(message, r.output), (args, r.output)
        assert "Traceback" not in r.output, (args, r.output)


def test_build_rejects_unknown_config_keys(tmp_path, fixtures):
    invoke("prep", "parse", fixtures / "telegram/result.json", "-o", tmp_path / "m.jsonl")
    bad = tmp_path / "bad.yaml"
    bad.write_text("session_gap: 5\n")
    r = invoke("prep", "build", tmp_path / "m.jsonl", "--target", "Deniz", "--config", bad, "-o", tmp_path / "ds")
    assert r.exit_code == 2
    assert "session_gap" in r.output


def test_help_lists_the_commands():
    r = invoke("--help")
    assert r.exit_code == 0
    assert "sample" in r.output
    assert "prep" in r.output


@pytest.mark.slow
def test_train_and_merge_through_the_cli(tmp_path):
    from clonekit.train.tiny import make_tiny_model

    tiny = make_tiny_model(tmp_path / "tiny")
    invoke("sample", "-o", tmp_path / "s", "--weeks", "2")
    invoke("prep", "parse", tmp_path / "s/result.json", "-o", tmp_path / "m.jsonl")
    invoke("prep", "build", tmp_path / "m.jsonl", "--target", "Deniz", "-o", tmp_path / "ds")
    r = invoke(
        "train",
        "--config",
        "configs/cpu-demo.yaml",
        "--data",
        tmp_path / "ds",
        "--out",
        tmp_path / "run",
        "--base",
        tiny,
        "--max-steps",
        "2",
        "--quiet",
    )
    assert r.exit_code == 0, r.output
    assert "valid_loss" in r.output
    assert "base_valid_loss" in r.output
    manifest = json.loads((tmp_path / "run/clonekit.json").read_text())
    assert manifest["config"]["max_steps"] == 2
    assert manifest["base"]["id"] == str(tiny)
    r = invoke("train", "merge", tmp_path / "run", "-o", tmp_path / "merged")
    assert r.exit_code == 0
    assert (tmp_path / "merged/config.json").exists()
    r = invoke(
        "train",
        "--config",
        "configs/cpu-demo.yaml",
        "--data",
        tmp_path / "ds",
        "--out",
        tmp_path / "run",
        "--base",
        tiny,
        "--max-steps",
        "2",
        "--quiet",
    )
    assert r.exit_code == 2
    assert "--resume" in r.output
    r = invoke("train", "--out", tmp_path / "x")
    assert r.exit_code == 2
    assert "--data" in r.output
