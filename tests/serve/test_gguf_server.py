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


def test_the_same_clients_reach_it_chat_and_compare_with_a_gguf_column(gguf, local_clone, tmp_path):
    """`clonekit chat --base-url` and `clonekit compare -e gguf=...` pointed at `clonekit serve --gguf`: the same bot
    client and the same report, a GGUF column beside vLLM's."""
    run, path = gguf
    proc, port = start(path)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        script = tmp_path / "chat.txt"
        script.write_text("Maya: pizza tonight?\nBora: im in\n")
        chat = subprocess.run(
            [sys.executable, "-m", "clonekit.cli", "chat", "--base-url", url, "--model", "clone"]
            + ["--adapter", str(run), "--script", str(script), "--quiet", "0"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert chat.returncode == 0, chat.stderr[-2000:]
        assert "Maya: pizza tonight?" in chat.stdout
        assert "Deniz: " in chat.stdout  # the clone answered, through the same client as vLLM's
        out = tmp_path / "report"
        compare = subprocess.run(
            [sys.executable, "-m", "clonekit.cli", "compare", "--data", str(local_clone.dataset)]
            + ["-e", f"vllm={local_clone.base_url},clone", "-e", f"gguf={url},clone", "--out", str(out)]
            + ["--limit", "2", "--selfplay-chats", "2", "--selfplay-turns", "3", "--max-tokens", "8"],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert compare.returncode == 0, compare.stderr[-3000:] + local_clone.died()
    finally:
        stop(proc)
    report = json.loads((out / "report.json").read_text())
    assert set(report["endpoints"]) == {"vllm", "gguf"}
    gguf_row = report["endpoints"]["gguf"]
    assert gguf_row["errors"] == 0
    assert 0 <= gguf_row["style_target_prob"] <= 1
    assert 0 <= gguf_row["loop_rate"] <= 1
    assert gguf_row["tokens_per_s"] > 0


def test_dry_sees_the_clones_earlier_turns_in_the_prompt(gguf):
    """A cross-turn loop copies an earlier reply from the prompt; llama-cpp-python feeds its samplers only the
    generated tokens, so DRY must be given the prompt: asked the same again, the clone does not copy its reply."""
    from llama_cpp import Llama

    from clonekit.serve import gguf_server

    run, path = gguf
    first = rendered(run)
    llm = Llama(model_path=str(path), n_ctx=1024, verbose=False)
    greedy = {"max_tokens": 12, "temperature": 0, "repeat_penalty": 1.0, "top_k": 0, "min_p": 0.0}
    reply = llm.create_completion(first, **greedy)["choices"][0]["text"]
    again = first + reply + "<|im_end|>\n" + first[first.index("<|im_start|>user") :]
    copied = llm.tokenize(reply.encode(), add_bos=False, special=True)[:3]
    plain = llm.create_completion(again, **greedy)["choices"][0]["text"]
    assert llm.tokenize(plain.encode(), add_bos=False, special=True)[:3] == copied  # without DRY: a copy
    undo = gguf_server.add_dry_sampler(1.0, 1.75, 2, -1)
    try:
        llm = Llama(model_path=str(path), n_ctx=1024, verbose=False)
        with_dry = llm.create_completion(again, **greedy)["choices"][0]["text"]
    finally:
        undo()
    assert llm.tokenize(with_dry.encode(), add_bos=False, special=True)[:3] != copied
