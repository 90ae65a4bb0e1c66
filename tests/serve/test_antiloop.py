"""The anti-loop rule alone (no vLLM): clone turns found in a rendered prompt, DRY penalties, the copy stop and
the degenerate stop, per-request settings."""

from itertools import pairwise

import pytest

from clonekit.serve.antiloop import START, AntiLoopSettings, RequestLoopState, clone_turns
from clonekit.train.template import load_template, render
from clonekit.train.tiny import default_hf_tokenizer


@pytest.fixture(scope="module")
def tok():
    return default_hf_tokenizer()


@pytest.fixture(scope="module")
def markers(tok):
    from clonekit.serve.logits_processor import turn_markers

    return turn_markers(tok)


def _prompt(tok, turns):
    msgs = [{"role": "system", "content": "You are Maya."}]
    for name, text in turns:
        msgs.append(
            {"role": "assistant", "content": text}
            if name == "Maya"
            else {"role": "user", "name": name, "content": text}
        )
    rendered = render(tok, load_template("chatml-names.jinja", tok), msgs, add_generation_prompt=True)
    return tok.encode(rendered, add_special_tokens=False)


def _state(tok, markers, prompt, output, **settings):
    return RequestLoopState(
        AntiLoopSettings(**settings),
        clone_turns(prompt, markers),
        output,
        markers.end,
        markers.stop_ids,
        lambda ids: tok.decode(ids, skip_special_tokens=True),
    )


def test_clone_turns_are_the_assistant_turns_of_the_prompt(tok, markers):
    prompt = _prompt(
        tok,
        [("Oliver", "Shall we say eight?"), ("Maya", "lol ok"), ("Priya", "yesss"), ("Maya", "see u there\ntonight")],
    )
    turns = clone_turns(prompt, markers)
    assert [tok.decode(t) for t in turns] == ["lol ok", "see u there\ntonight"]  # not the open generation prompt


def test_copying_an_earlier_reply_is_penalized_more_the_longer_the_copy(tok, markers):
    earlier = "omg the pizza place near the station was so good lol"
    prompt = _prompt(tok, [("Oliver", "Pizza?"), ("Maya", earlier), ("Oliver", "Again?")])
    ids = tok.encode(earlier, add_special_tokens=False)
    output: list[int] = []
    st = _state(tok, markers, prompt, output)
    penalties = []
    for t in ids:
        penalties.append(st.penalties().get(t, 0.0))
        output.append(t)
    assert penalties[0] == 0.0  # starting like an earlier reply is free (a match of the start token only)
    assert penalties[1] == pytest.approx(1.0)  # start + first token matched: multiplier * base ** 0
    assert all(b > a for a, b in pairwise(penalties[1:]))  # grows with the match
    assert st.penalties()[markers.end] > 100  # ending as an exact copy: DRY and the copy stop together


def test_a_short_repeated_reply_cannot_end_as_a_copy(tok, markers):
    prompt = _prompt(
        tok, [("Oliver", "Coming?"), ("Maya", "lol"), ("Oliver", "Sure?"), ("Maya", "LOL!"), ("Oliver", "Really?")]
    )
    output = tok.encode("lol", add_special_tokens=False)
    st = _state(tok, markers, prompt, output)
    p = st.penalties()
    assert p[markers.end] >= 2 * 6.0  # two earlier near-identical turns ("lol", "LOL!")
    off = _state(tok, markers, prompt, list(output), copy_penalty=0.0, multiplier=0.0)
    assert markers.end not in off.penalties()


def test_third_repetition_inside_a_reply_is_forbidden(tok, markers):
    unit = tok.encode(" lol", add_special_tokens=False)
    ok = tok.encode("ok", add_special_tokens=False)
    prompt = _prompt(tok, [("Oliver", "Hi")])
    st = _state(tok, markers, prompt, ok + unit * 2 + unit[:-1])
    assert st.penalties()[unit[-1]] == float("inf")  # the token that would complete "ok lol lol lol"
    once = _state(tok, markers, prompt, ok + unit + unit[:-1])
    assert once.penalties().get(unit[-1], 0.0) != float("inf")  # a second "lol" is allowed


def test_an_opening_used_before_costs_more_the_more_often(tok, markers):
    wait = tok.encode("wait", add_special_tokens=False)[0]
    prompt = _prompt(
        tok,
        [
            ("Oliver", "a"),
            ("Maya", "wait what"),
            ("Oliver", "b"),
            ("Maya", "wait really"),
            ("Oliver", "c"),
            ("Maya", "ok sure"),
            ("Oliver", "d"),
        ],
    )
    p = _state(tok, markers, prompt, [], opening_penalty=0.7).penalties()
    assert p[wait] == pytest.approx(2 * 0.7)
    assert p[tok.encode("ok", add_special_tokens=False)[0]] == pytest.approx(0.7)
    assert _state(tok, markers, prompt, []).penalties() == {}  # off by default
    late = _state(
        tok, markers, prompt, tok.encode("so yeah i think", add_special_tokens=False), opening_penalty=0.7
    ).penalties()
    assert wait not in late  # only the first opening_tokens tokens of a reply


def test_no_earlier_turns_no_penalty(tok, markers):
    st = _state(tok, markers, _prompt(tok, [("Oliver", "Hi there")]), tok.encode("hey", add_special_tokens=False))
    assert st.penalties() == {}
    assert _state(tok, markers, _prompt(tok, [("Oliver", "Hi there")]), []).penalties() == {}
    assert START not in st.penalties()


def test_settings_per_request_and_from_env(monkeypatch):
    s = AntiLoopSettings().with_request_args({"antiloop_enabled": "0", "antiloop_copy_penalty": 3, "other": 1})
    assert not s.enabled
    assert s.copy_penalty == 3.0
    with pytest.raises(ValueError, match="unknown anti-loop settings"):
        AntiLoopSettings().with_request_args({"antiloop_strength": 2})
    with pytest.raises(ValueError, match="not a number"):
        AntiLoopSettings().with_request_args({"antiloop_base": "high"})
    with pytest.raises(ValueError, match="base >= 1"):
        AntiLoopSettings().with_request_args({"antiloop_base": 0.5})
    monkeypatch.setenv("CLONEKIT_ANTILOOP", '{"multiplier": 2.5}')
    assert AntiLoopSettings.from_env().multiplier == 2.5
