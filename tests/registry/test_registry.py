"""The registry: immutable content-hashed versions, statuses replayed from the audit log, and the refusals
(another base or template or system prompt, no gate, a failed gate, no approval, a corrupt version)."""

import json
import os
import stat

import pytest
import torch
from safetensors.torch import save_file
from typer.testing import CliRunner

from clonekit.cli import app
from clonekit.errors import ClonekitError
from clonekit.registry import Registry, approve_version
from clonekit.serve.hotswap import promote, rollback
from tests.helpers import adapter_manifest_text

SYSTEM = "You are Maya, chatting with friends in a group chat."


def fake_run(d, seed=0, base_sha="b" * 64, template="{{ messages }}", system=SYSTEM):
    """An adapter directory as `clonekit train` writes it (weights are random: the registry never loads them)."""
    d.mkdir(parents=True)
    torch.manual_seed(seed)
    save_file(
        {"base_model.model.layers.0.q_proj.lora_A.weight": torch.randn(4, 8)}, str(d / "adapter_model.safetensors")
    )
    (d / "adapter_config.json").write_text(json.dumps({"r": 4, "lora_alpha": 8}))
    (d / "chat_template.jinja").write_text(template)
    (d / "clonekit.json").write_text(
        adapter_manifest_text(
            "tiny", str(d), base_sha, "Maya", system, max_seq_len=256, metrics={"valid_loss": 2.0 + seed / 10}
        )
    )
    return d


@pytest.fixture
def reg(tmp_path):
    reg = Registry(tmp_path / "registry")
    reg.init(fake_run(tmp_path / "run1"), excluded=["Jordan"], actor="alice")
    return reg


def gate(reg, vid, passed=True):
    reg.audit.append("evaluated", reason="gate", actor="test", version=vid, passed=passed, checks=[], figures={})


def test_init_makes_a_read_only_core_and_a_live_first_version(reg):
    state = reg.state()
    assert state.live == "v1-" + state.live.split("-")[1]
    assert state.versions[state.live].status == "live"
    core, _ = reg.core()
    assert core.name == "Maya"
    assert core.system_prompt == SYSTEM
    assert core.excluded == ["Jordan"]
    assert not os.stat(reg.core_path).st_mode & stat.S_IWUSR
    d = reg.version_dir(state.live)
    assert all(not os.stat(p).st_mode & stat.S_IWUSR for p in d.iterdir())
    assert reg.verify() == []


def test_candidate_lifecycle_gate_approval_promotion_rollback(reg, tmp_path):
    v1 = reg.state().live
    v2 = reg.register(fake_run(tmp_path / "run2", seed=1), parent=v1, actor="evolve", reason="candidate")
    assert reg.state().candidate == v2
    assert "not passed the gate" in reg.promotion_problem(v2)
    with pytest.raises(ClonekitError, match="not been through the gate"):
        approve_version(reg.root, v2, "bob", "looks fine")
    gate(reg, v2)
    assert "not approved" in reg.promotion_problem(v2)
    approve_version(reg.root, "candidate", "bob", "read the figures")
    out = promote(reg, "candidate", None, "bob", "ship it")
    state = reg.state()
    assert out["version"] == v2
    assert state.live == v2
    assert state.versions[v1].status == "retired"
    assert state.history == [v1, v2]
    back = rollback(reg, None, "bob", "worse in chat")
    assert back == {"from": v2, "to": v1, "swap_seconds": None}
    assert reg.state().live == v1
    events = [r["event"] for r in reg.audit.records()]
    assert events[-4:] == ["evaluated", "approved", "promoted", "rolled_back"]
    assert reg.verify() == []


def test_a_version_that_failed_the_gate_is_never_promoted(reg, tmp_path):
    v2 = reg.register(fake_run(tmp_path / "run2", seed=1), parent=reg.state().live, reason="candidate")
    gate(reg, v2, passed=False)
    gate(reg, v2, passed=True)  # a later pass does not wash out the failure
    with pytest.raises(ClonekitError, match="failed the gate"):
        approve_version(reg.root, v2, "bob", "please")
    reg.audit.append("approved", reason="by hand", actor="mallory", version=v2)  # even if someone logs it
    with pytest.raises(ClonekitError, match="failed the gate"):
        promote(reg, v2, None, "mallory", "force")
    assert reg.state().live.startswith("v1-")


@pytest.mark.parametrize(
    "change,match",
    [
        ({"base_sha": "c" * 64}, "another base model"),
        ({"template": "{{ other }}"}, "another chat template"),
        ({"system": "You are someone else."}, "another system prompt"),
    ],
)
def test_a_candidate_on_another_base_template_or_persona_is_refused(reg, tmp_path, change, match):
    before = reg.audit.path.read_bytes()
    with pytest.raises(ClonekitError, match=match):
        reg.register(fake_run(tmp_path / "other", seed=2, **change), parent=reg.state().live, reason="candidate")
    assert reg.audit.path.read_bytes() == before
    assert len(reg.state().versions) == 1


def test_a_corrupt_or_missing_version_is_refused_and_fails_verify(reg, tmp_path):
    v2 = reg.register(fake_run(tmp_path / "run2", seed=1), parent=reg.state().live, reason="candidate")
    gate(reg, v2)
    approve_version(reg.root, v2, "bob", "ok")
    target = reg.version_dir(v2) / "adapter_model.safetensors"
    os.chmod(target, 0o644)
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(ClonekitError, match="corrupt"):
        promote(reg, v2, None, "bob", "ship")
    assert reg.state().live.startswith("v1-")
    assert any("was changed" in p.problem for p in reg.verify())
    target.unlink()
    assert any("missing" in p.problem for p in reg.verify())


def test_cli_verify_passes_then_fails_after_any_edit_of_the_log(reg):
    runner = CliRunner()
    ok = runner.invoke(app, ["registry", "verify", "-r", str(reg.root)])
    assert ok.exit_code == 0, ok.output
    assert "ok:" in ok.output
    text = reg.audit.path.read_text(encoding="utf-8").replace('"alice"', '"alicf"', 1)
    reg.audit.path.write_text(text, encoding="utf-8")
    bad = runner.invoke(app, ["registry", "verify", "-r", str(reg.root)])
    assert bad.exit_code == 1
    assert "edited" in bad.output
    refused = runner.invoke(app, ["registry", "list", "-r", str(reg.root)])
    assert refused.exit_code == 2
    assert "audit log is broken" in refused.output


def test_cli_list_show_diff_and_refusals(reg, tmp_path):
    runner = CliRunner()
    v2 = reg.register(fake_run(tmp_path / "run2", seed=1), parent=reg.state().live, reason="candidate")
    listing = runner.invoke(app, ["registry", "list", "-r", str(reg.root)])
    assert listing.exit_code == 0
    assert v2 in listing.output
    assert "candidate" in listing.output
    shown = runner.invoke(app, ["registry", "show", "v2", "-r", str(reg.root)])
    assert shown.exit_code == 0, shown.output
    assert "registered" in shown.output
    diff = runner.invoke(app, ["registry", "diff", "live", "candidate", "-r", str(reg.root)])
    assert diff.exit_code == 0, diff.output
    assert "training valid_loss" in diff.output
    promoted = runner.invoke(app, ["registry", "promote", v2, "-r", str(reg.root)])
    assert promoted.exit_code == 2
    assert "not promoted" in promoted.output
    assert "nothing was changed" in promoted.output
    missing = runner.invoke(app, ["registry", "list", "-r", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2
    assert "not a registry" in missing.output
