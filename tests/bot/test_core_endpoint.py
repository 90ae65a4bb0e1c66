"""The core against a real HTTP endpoint on loopback that injects faults the hosted API and vLLM produce:
429 and 5xx answers, and a model stuck repeating itself."""

import asyncio

from clonekit.bot.core import CloneChat
from clonekit.config import BotConfig


def chat_with(url, **kw):
    return CloneChat(
        BotConfig(
            base_url=url, model="clone", clone_name="Deniz", system_prompt="You are Deniz.", quiet_seconds=0, **kw
        )
    )


def test_429_and_5xx_are_retried_and_the_chat_sees_a_reply(endpoint, monkeypatch):
    monkeypatch.setattr("clonekit.bot.core.asyncio.sleep", _no_sleep)
    e = endpoint([(429, ""), (503, ""), (200, "Deniz: tamam abi\ngeliyorum")])
    chat = chat_with(e.url)
    chat.heard("c", "Maya", "pizza?")
    assert asyncio.run(chat.reply("c")) == ["tamam abi", "geliyorum"]  # name prefix stripped, two bubbles
    assert chat.events["transport_RateLimitError"] == 1
    assert chat.events["transport_InternalServerError"] == 1
    sent = e.requests[-1]["messages"]
    assert sent == [
        {"role": "system", "content": "You are Deniz."},
        {"role": "user", "name": "Maya", "content": "pizza?"},
    ]


def test_giving_up_sends_nothing_and_says_so(endpoint, monkeypatch):
    monkeypatch.setattr("clonekit.bot.core.asyncio.sleep", _no_sleep)
    e = endpoint([(500, "")])
    chat = chat_with(e.url, max_retries=2)
    chat.heard("c", "Maya", "pizza?")
    assert asyncio.run(chat.reply("c")) == []
    assert chat.events["transport_gave_up"] == 1
    assert len(e.requests) == 3


def test_a_looping_model_is_retried_with_higher_penalties_then_silenced(endpoint):
    e = endpoint([(200, "lol lol lol lol lol")])
    chat = chat_with(e.url, loop_retries=2)
    chat.heard("c", "Maya", "say something")
    assert asyncio.run(chat.reply("c")) == []
    assert chat.events["loop_degenerate"] == 3
    assert chat.events["reply_suppressed"] == 1
    assert "frequency_penalty" not in e.requests[0]
    assert e.requests[2]["frequency_penalty"] > e.requests[1]["frequency_penalty"]


def test_never_the_same_reply_three_times_in_a_row(endpoint):
    e = endpoint([(200, "tamam abi")])
    chat = chat_with(e.url, loop_retries=1)
    replies = []
    for _ in range(6):
        chat.heard("c", "Maya", "say something")
        replies.append(asyncio.run(chat.reply("c")))
    texts = [r[0] if r else None for r in replies]
    assert not any(a == b == c and a is not None for a, b, c in zip(texts, texts[1:], texts[2:], strict=False))
    assert chat.events["loop_repeat"] > 0
    assert chat.events["reply_suppressed"] > 0


async def _no_sleep(_):
    return None


def test_scripted_chat_through_the_cli(endpoint, tmp_path):
    from typer.testing import CliRunner

    from clonekit.cli import app

    e = endpoint([(200, "Deniz: ben varım abi\nsaat kaçta?")])
    script = tmp_path / "chat.txt"
    script.write_text("Maya: anyone up for pizza lol\nOliver: I could be persuaded.\n\nMaya: 8?\n", encoding="utf-8")
    r = CliRunner().invoke(
        app,
        ["chat", "--base-url", e.url, "--model", "clone", "--name", "Deniz", "--script", str(script), "--quiet", "0"],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    lines = [line for line in r.output.splitlines() if ": " in line and not line.startswith("events")]
    assert lines[:4] == [
        "Maya: anyone up for pizza lol",
        "Oliver: I could be persuaded.",
        "Deniz: ben varım abi",
        "Deniz: saat kaçta?",
    ]
    assert lines[4] == "Maya: 8?"
    assert e.requests[0]["messages"][-2:] == [
        {"role": "user", "name": "Maya", "content": "anyone up for pizza lol"},
        {"role": "user", "name": "Oliver", "content": "I could be persuaded."},
    ]


def test_names_the_hosted_api_accepts(endpoint):
    from clonekit.chat import is_openai_api

    assert is_openai_api("https://api.openai.com/v1")
    assert not is_openai_api("http://127.0.0.1:8000/v1")
    e = endpoint([(200, "tamam")])
    chat = chat_with(e.url, openai_names=True)  # what a hosted base_url turns on by itself
    chat.heard("c", "Zeynep Ş.", "geliyor musun?")
    asyncio.run(chat.reply("c"))
    assert e.requests[0]["messages"][-1]["name"] == "Zeynep_S"


def test_replies_pass_the_redactor_whatever_the_adapter_learned(endpoint):
    e = endpoint([(200, "call Priya on +44 7700 900123 or mail p@example.com, card 4111 1111 1111 1111")])
    chat = chat_with(e.url, exclude=["Priya"])
    chat.heard("c", "Maya", "how do I reach her?")
    assert asyncio.run(chat.reply("c")) == ["call <person> on <phone> or mail <email>, card <card>"]
    assert chat.events["redacted"] == 4
