"""`clonekit serve --gguf`: llama.cpp's server (llama-cpp-python's, really started, HTTP over loopback) with the
speaker names kept, llama.cpp's DRY sampler, and the clone's sampling defaults; a plain OpenAI client talks to it."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from clonekit.serve.launcher import free_port
from clonekit.train.export import export

pytestmark = pytest.mark.slow
MESSAGES = [
    {"role": "system", "content": "You are Deniz."},
    {"role": "user", "name": "Maya", "content": "pizza tonight?"},
    {"role": "user", "name": "Bora", "content": "im in"},
]


@pytest.fixture(scope="module")
def gguf(trained_clone, tmp_path_factory):
    pytest.importorskip("llama_cpp.server", reason="the `export` extra (llama-cpp-python[server])")
    run = trained_clone[0]
    return run, export(run, "gguf", tmp_path_factory.mktemp("gguf") / "clone.gguf", quant="f16", log=lambda s: None)


def start(gguf_path, *flags, key=None):
    port = free_port()
    env = {**os.environ, **({"CLONEKIT_API_KEY": key} if key else {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "clonekit.cli", "serve", "--gguf", str(gguf_path), "--port", str(port), *flags],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode()
        try:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/models")
            if key:
                req.add_header("Authorization", f"Bearer {key}")
            urllib.request.urlopen(req, timeout=2)
            return proc, port
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise AssertionError("the GGUF server did not start")


def stop(proc):
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(30)


def direct_greedy(gguf_path, text, n, dry):
    """llama.cpp itself, on the prompt as the training template renders it (names included)."""
    from llama_cpp import Llama

    from clonekit.serve import gguf_server

    undo = gguf_server.add_dry_sampler(1.0, 1.75, 2, -1) if dry else None
    try:
        llm = Llama(model_path=str(gguf_path), n_ctx=512, verbose=False)
        out = llm.create_completion(text, max_tokens=n, temperature=0, repeat_penalty=1.0, top_k=0, min_p=0.0)
    finally:
        if undo:
            undo()
    return out["choices"][0]["text"]


def rendered(run):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(run)
    return tok.apply_chat_template(
        MESSAGES, chat_template=(run / "chat_template.jinja").read_text(), add_generation_prompt=True, tokenize=False
    )


def test_names_reach_the_model_and_dry_shapes_the_reply(gguf):
    import openai

    run, path = gguf
    text = rendered(run)
    assert "user Maya" in text
    replies = {}
    for flags, dry in (((), True), (("--no-anti-loop",), False)):
        proc, port = start(path, *flags)
        try:
            client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none", max_retries=0)
            reply = client.chat.completions.create(
                model="clone", messages=MESSAGES, max_tokens=24, temperature=0, frequency_penalty=0
            )
            got = reply.choices[0].message.content
        finally:
            stop(proc)
        # the same tokens as llama.cpp on the training template's text with the names (a dropped name would change
        # the prompt, and on the tiny random model the reply)
        assert got.strip() == direct_greedy(path, text, 24, dry).strip()
        replies[dry] = got
    assert replies[True] != replies[False]  # llama.cpp's DRY sampler is in the chain


def test_sampling_defaults_and_key(gguf):
    from clonekit.serve.gguf_server import sampling_defaults

    run, path = gguf
    defaults = sampling_defaults(path)
    generation = json.loads((run / "generation_config.json").read_text())
    assert defaults["temperature"] == generation["temperature"]
    assert defaults["max_tokens"] == generation["max_new_tokens"]
    assert defaults["repeat_penalty"] == 1.0
    proc, port = start(path, key="k-123")
    try:
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=5)
        assert e.value.code == 401
    finally:
        stop(proc)


def test_a_missing_file_is_one_clear_error(tmp_path):
    from typer.testing import CliRunner

    from clonekit.cli import app

    result = CliRunner().invoke(app, ["serve", "--gguf", str(tmp_path / "nope.gguf")])
    assert result.exit_code != 0
    assert "not a GGUF file" in result.output
    assert "Traceback" not in result.output
