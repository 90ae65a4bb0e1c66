"""Preference tuning: pairs from `clonekit prep pairs`, DPO with TRL on the tiny model, continuing an adapter."""

import json

import pytest
from typer.testing import CliRunner

from clonekit.cli import app
from clonekit.config import TrainConfig
from clonekit.data_prep.pairs import write_pairs
from clonekit.errors import ClonekitError
from clonekit.pairs import pair_problem, read_pairs
from clonekit.train.dpo import train_dpo

runner = CliRunner()


@pytest.fixture(scope="module")
def setup(tmp_path_factory, trained_clone):
    sft, tiny, ds = trained_clone
    return tmp_path_factory.mktemp("dpo"), tiny, ds, sft


def test_prep_pairs_contrast_the_real_reply_with_a_loop(setup):
    d, _, ds, _ = setup
    summary = write_pairs(ds)
    lines = [json.loads(line) for line in (ds / "pairs.jsonl").read_text().splitlines()]
    assert summary["pairs"] == len(lines) > 10
    assert set(summary["by_source"]) == {"prep:copy", "prep:overused"}
    real = {
        m["content"]
        for line in (ds / "train.jsonl").read_text().splitlines()
        for m in json.loads(line)["messages"]
        if m["role"] == "assistant" and m.get("weight", 1)
    }
    for pair in lines:
        assert pair_problem(pair) is None
        assert pair["chosen"] in real
        assert pair["context"][-1]["role"] == "user"
        assert not any("weight" in m for m in pair["context"])
        if pair["source"] == "prep:copy":  # the clone repeating its own last reply
            assert pair["rejected"] == [m for m in pair["context"] if m["role"] == "assistant"][-1]["content"]
    assert len(read_pairs(ds / "pairs.jsonl")) == len(lines)
    write_pairs(ds, d / "few.jsonl", max_pairs=5)
    assert len(read_pairs(d / "few.jsonl")) == 5


@pytest.mark.slow
def test_dpo_from_an_adapter_raises_the_margin_of_chosen_over_rejected(setup):
    d, _, ds, sft = setup
    write_pairs(ds)
    run = train_dpo(
        TrainConfig(max_steps=10, rows_per_step=4, learning_rate=5e-3, max_seq_len=256),
        ds / "pairs.jsonl",
        d / "dpo",
        from_adapter=sft,
        show_progress=False,
        log=lambda s: None,
    )
    manifest = json.loads((run / "clonekit.json").read_text())
    m = manifest["metrics"]
    assert m["margin_after"] > m["margin_before"] + 1.0, m
    assert manifest["method"] == "dpo"
    assert manifest["parent"] == str(sft.resolve())
    assert manifest["dataset"]["target"] == "Deniz"  # carried over from the SFT run's dataset
    # only the trained adapter is written, not TRL's frozen reference copy
    assert not (run / "ref").exists()
    assert "ref" not in json.loads((run / "adapter_config.json").read_text()).get("base_model_name_or_path", "")
    from safetensors import safe_open

    with safe_open(str(run / "adapter_model.safetensors"), "pt") as f:
        assert all("lora_" in k and ".ref." not in k for k in f.keys())


@pytest.mark.slow
def test_dpo_on_the_base_model(setup):
    d, tiny, ds, _ = setup
    write_pairs(ds)
    run = train_dpo(
        TrainConfig(base=str(tiny), max_steps=6, learning_rate=5e-3, max_seq_len=256),
        ds / "pairs.jsonl",
        d / "dpo-base",
        show_progress=False,
        log=lambda s: None,
    )
    m = json.loads((run / "clonekit.json").read_text())["metrics"]
    assert m["margin_after"] > m["margin_before"]


def test_dpo_without_pairs_is_a_clear_error(setup, tmp_path):
    d, tiny, ds, sft = setup
    bare = tmp_path / "ds"
    bare.mkdir()
    (bare / "train.jsonl").write_text((ds / "train.jsonl").read_text())
    r = runner.invoke(
        app, ["train", "--method", "dpo", "--data", str(bare), "--out", str(tmp_path / "run"), "--base", str(tiny)]
    )
    assert r.exit_code == 2
    assert "has no pairs.jsonl" in r.output
    assert "clonekit prep pairs" in r.output
    r = runner.invoke(
        app,
        [
            "train",
            "--method",
            "dpo",
            "--data",
            str(bare / "train.jsonl"),
            "--out",
            str(tmp_path / "run"),
            "--base",
            str(tiny),
        ],
    )
    assert r.exit_code == 2
    assert "chat example (train.jsonl), not a preference pair" in r.output
    assert "train.jsonl:1" in r.output.replace("\n", "")
    bad = tmp_path / "pairs.jsonl"
    bad.write_text(
        json.dumps({"context": [{"role": "user", "content": "hi"}], "chosen": "a", "rejected": "b"})
        + "\n"
        + json.dumps({"context": [{"role": "user", "content": "hi"}], "chosen": "a", "rejected": "a"})
        + "\n"
    )
    with pytest.raises(ClonekitError, match="same text") as e:
        read_pairs(bad)
    assert e.value.line == 2


@pytest.mark.slow
def test_cli_prep_pairs_then_train_dpo(setup, tmp_path):
    d, _, ds, sft = setup
    r = runner.invoke(app, ["prep", "pairs", str(ds), "-o", str(tmp_path / "p.jsonl"), "--max-pairs", "12"])
    assert r.exit_code == 0, r.output
    assert "pairs: 12" in r.output
    r = runner.invoke(
        app,
        [
            "train",
            "--method",
            "dpo",
            "--data",
            str(tmp_path / "p.jsonl"),
            "--from",
            str(sft),
            "--out",
            str(tmp_path / "run"),
            "--max-steps",
            "2",
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "margin_after" in r.output
    assert (tmp_path / "run" / "adapter_model.safetensors").exists()
