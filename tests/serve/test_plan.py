"""Checks before vLLM starts: they must fail fast and clearly."""

import json
import socket
import struct
from pathlib import Path

import pytest

from clonekit.errors import ClonekitError
from clonekit.serve.launcher import (
    Adapter,
    free_port,
    lora_rank_for,
    parse_adapter_args,
    plan_model_server,
    plan_server,
)
from tests.helpers import adapter_manifest_text


def fake_run(tmp_path, name="run", base_id="org/base", sha="aaa", r=16, template="T"):
    run = tmp_path / name
    run.mkdir()
    base = tmp_path / "base"
    base.mkdir(exist_ok=True)
    (run / "clonekit.json").write_text(adapter_manifest_text(base_id, str(base), sha))
    (run / "adapter_config.json").write_text(json.dumps({"r": r, "target_modules": ["q_proj"]}))
    (run / "adapter_model.safetensors").write_bytes(safetensors_bytes())
    (run / "chat_template.jinja").write_text(template)
    return run


def safetensors_bytes() -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    return struct.pack("<Q", len(header)) + header + b"\0" * 8


def test_plan_builds_vllms_command(tmp_path):
    run = fake_run(tmp_path)
    (run / "generation_config.json").write_text("{}")
    plan = plan_server([f"clone={run}"], port=free_port(), device="cpu", merged=False)
    argv = plan.argv
    assert argv[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert argv[argv.index("--lora-modules") + 1] == f"clone={run.resolve()}"
    assert argv[argv.index("--chat-template") + 1] == str(run.resolve() / "chat_template.jinja")
    assert argv[argv.index("--dtype") + 1] == "float32"
    assert "--enable-lora" in argv
    assert argv[argv.index("--max-lora-rank") + 1] == "16"
    assert argv[argv.index("--generation-config") + 1] == str(run.resolve())
    assert argv[argv.index("--served-model-name") + 1] == "org/base"
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert plan.env["VLLM_CPU_NUM_OF_RESERVED_CPU"] == "0"
    assert int(plan.env["VLLM_CPU_KVCACHE_SPACE"]) >= 1
    # prefix caching reuses whole blocks: 32-token blocks, not vllm-cpu's 128, for chats that grow a turn at a time
    assert argv[argv.index("--block-size") + 1] == "32"


def test_base_only_serves_the_base_with_the_clones_template_and_defaults(tmp_path):
    run = fake_run(tmp_path)
    (run / "generation_config.json").write_text("{}")
    plan = plan_server([f"clone={run}"], port=free_port(), device="cpu", base_only=True)
    argv = plan.argv
    assert argv[argv.index("--model") + 1] == str(tmp_path / "base")
    assert argv[argv.index("--served-model-name") + 1] == "org/base"
    assert argv[argv.index("--chat-template") + 1] == str(run.resolve() / "chat_template.jinja")
    assert argv[argv.index("--generation-config") + 1] == str(run.resolve())
    assert "--enable-lora" not in argv
    assert "--lora-modules" not in argv
    assert plan.base_name == "org/base"
    assert plan.adapters == []
    with pytest.raises(ClonekitError, match="--base-only"):
        plan_server([f"clone={run}"], port=free_port(), device="cpu", base_only=True, merged=True)


def test_bare_run_is_served_as_clone(tmp_path):
    assert parse_adapter_args([str(tmp_path)]) == [("clone", tmp_path)]
    with pytest.raises(ClonekitError, match="distinct"):
        parse_adapter_args(["a=x", "a=y"])


def test_adapters_of_different_bases_are_refused(tmp_path):
    a = fake_run(tmp_path, "a", sha="aaa")
    b = fake_run(tmp_path, "b", sha="bbb")
    with pytest.raises(ClonekitError, match="different base models"):
        plan_server([f"a={a}", f"b={b}"], port=free_port())


def test_missing_adapter_files(tmp_path):
    run = fake_run(tmp_path)
    (run / "adapter_model.safetensors").unlink()
    with pytest.raises(ClonekitError, match="adapter_model.safetensors"):
        plan_server([str(run)], port=free_port())
    with pytest.raises(ClonekitError, match="not an adapter directory"):
        plan_server([str(tmp_path / "nothing")], port=free_port())


@pytest.mark.parametrize(
    "breakage,message",
    [
        (
            lambda run: (run / "adapter_config.json").write_text("{not json"),
            "adapter_config.json:1: column 2: invalid JSON",
        ),
        (lambda run: (run / "adapter_config.json").write_text("[1, 2]"), "must be a JSON object"),
        (lambda run: (run / "adapter_config.json").write_text('{"r": "x"}'), "not a LoRA adapter config"),
        (lambda run: (run / "clonekit.json").write_text('{"config": {}}'), "field clonekit_version: Field required"),
        (lambda run: (run / "clonekit.json").write_text('["base"]'), "clonekit.json: must be a JSON object"),
        (lambda run: (run / "adapter_model.safetensors").write_bytes(safetensors_bytes()[:-3]), "is truncated"),
        (lambda run: (run / "adapter_model.safetensors").write_bytes(b"\xff" * 12), "truncated or not a safetensors"),
    ],
)
def test_broken_adapter_dirs_fail_before_vllm_starts(tmp_path, breakage, message):
    run = fake_run(tmp_path)
    breakage(run)
    with pytest.raises(ClonekitError, match=message.replace("[", r"\[")) as e:
        plan_server([str(run)], port=free_port())
    assert str(run) in str(e.value)


def test_port_in_use(tmp_path):
    run = fake_run(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(ClonekitError, match="cannot listen"):
            plan_server([str(run)], port=s.getsockname()[1])


def test_rank_too_high(tmp_path):
    assert lora_rank_for([Adapter("a", tmp_path, {}, 12)]) == 16
    with pytest.raises(ClonekitError, match="rank 1024"):
        lora_rank_for([Adapter("a", tmp_path, {}, 1024)])


def test_non_loopback_needs_an_api_key(tmp_path):
    run = fake_run(tmp_path)
    with pytest.raises(ClonekitError, match="--api-key"):
        plan_server([str(run)], host="0.0.0.0", port=free_port())
    plan = plan_server([str(run)], host="0.0.0.0", port=free_port(), api_key="secret-k", merged=False)
    assert "--api-key" not in plan.argv
    assert not any("secret-k" in a for a in plan.argv)
    assert plan.env["VLLM_API_KEY"] == "secret-k"
    assert "clonekit.serve.auth.RequireApiKey" in plan.argv


def test_merged_needs_a_single_adapter(tmp_path):
    a, b = fake_run(tmp_path, "a"), fake_run(tmp_path, "b")
    with pytest.raises(ClonekitError, match="one --adapter"):
        plan_server([f"a={a}", f"b={b}"], port=free_port(), merged=True)


def test_one_clone_on_the_cpu_is_served_merged_by_default(trained_clone, tmp_path, monkeypatch):
    """The default for one clone on the CPU: merged and alone, LoRA off (vllm-cpu's LoRA path, even enabled only for
    the base, slows the clone); `--merged`: merged with the base as a negated adapter; several clones, `--lora`, or
    CUDA: LoRA mode."""
    monkeypatch.setenv("CLONEKIT_CACHE", str(tmp_path / "cache"))
    run = trained_clone[0]
    alone = plan_server([f"clone={run}"], port=free_port(), device="cpu")
    assert "--enable-lora" not in alone.argv
    assert alone.argv[alone.argv.index("--served-model-name") + 1] == "clone"
    assert alone.base_name is None
    plan = plan_server([f"clone={run}"], port=free_port(), device="cpu", merged=True)
    argv = plan.argv
    assert argv[argv.index("--served-model-name") + 1] == "clone"
    assert argv[argv.index("--lora-modules") + 1].startswith(f"{plan.base_name}=")
    assert (Path(argv[argv.index("--model") + 1]) / "config.json").exists()
    lora = plan_server([f"clone={run}"], port=free_port(), device="cpu", merged=False).argv
    assert lora[lora.index("--lora-modules") + 1] == f"clone={run.resolve()}"
    two = plan_server([f"a={run}", f"b={run}"], port=free_port(), device="cpu").argv
    assert two[two.index("--lora-modules") + 1 : two.index("--lora-modules") + 3] == [
        f"a={run.resolve()}",
        f"b={run.resolve()}",
    ]
    cuda = plan_server([f"clone={run}"], port=free_port(), device="cuda").argv
    assert cuda[cuda.index("--lora-modules") + 1] == f"clone={run.resolve()}"


def test_a_plain_model_folder(tmp_path):
    with pytest.raises(ClonekitError, match="not a model folder"):
        plan_model_server(tmp_path, port=free_port())
    model = tmp_path / "exported"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"max_position_embeddings": 8192}))
    (model / "chat_template.jinja").write_text("T")
    (model / "generation_config.json").write_text("{}")
    plan = plan_model_server(model, port=free_port(), device="cpu")
    argv = plan.argv
    assert argv[argv.index("--served-model-name") + 1] == "exported" == plan.base_name
    assert argv[argv.index("--chat-template") + 1] == str(model / "chat_template.jinja")
    assert argv[argv.index("--generation-config") + 1] == str(model.resolve())
    assert argv[argv.index("--max-model-len") + 1] == "2048"
    assert "--enable-lora" not in argv
    assert "--logits-processors" in argv


def test_the_kv_cache_is_a_quarter_of_what_the_container_leaves(monkeypatch):
    """/proc/meminfo shows the host's memory inside a container: a cgroup limit caps the KV cache too."""
    from clonekit.serve import launcher

    monkeypatch.setattr(launcher, "cgroup_memory_left", lambda: None)
    host = launcher.kv_cache_gib()  # a quarter of this machine's MemAvailable, 1 to 8
    assert 1 <= host <= 8
    monkeypatch.setattr(launcher, "cgroup_memory_left", lambda: 8 * 2**30)
    assert launcher.kv_cache_gib() == min(2, host)  # the smaller of the two, on any machine
    monkeypatch.setattr(launcher, "cgroup_memory_left", lambda: 2**30)
    assert launcher.kv_cache_gib() == 1  # never under 1 GiB
    left = launcher.cgroup_memory_left()  # this machine's own: None or what its limit leaves
    assert left is None or left >= 0
