"""`clonekit compare`: ask every endpoint the held-out contexts, score the replies, measure loops and speed."""

from __future__ import annotations

import asyncio
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from clonekit.chat import NameSanitizer, is_openai_api, render_turns
from compare.cases import HeldOut, load_heldout
from compare.endpoints import Endpoint, check_reachable, generate
from compare.lexical import distances, length_distance, signature, signature_words
from compare.relevance import Embedder, context_text, similarities
from compare.diversity import diversity_metrics
from compare.selfplay import self_play
from compare.style import train_authorship


@dataclass
class CompareSettings:
    limit: int | None = None  # held-out target turns asked (spread over the sessions); None = all
    max_tokens: int = 64
    temperature: float | None = None  # None: each endpoint's own default (a clonekit server: the clone's)
    concurrency: int = 4
    selfplay_chats: int = 8
    selfplay_turns: int = 8
    history_turns: int = 20
    adapters: dict[str, str] = field(default_factory=dict)  # endpoint name -> adapter run dir (held-out loss)
    seed: int = 0


def _score(texts: list[str], held: HeldOut, style, vocab, profile, ctx_emb_texts, embedder) -> dict:
    probs = style.target_probs(texts)
    top1 = style.pipeline.predict([t or " " for t in texts]) if texts else []
    sig = signature(texts, vocab)
    dist = distances(sig, profile)
    target_train = [t for s, t in held.train_turns if s == held.target]
    return {
        "style_target_prob": float(np.mean(probs)),
        "style_top1_rate": float(np.mean([p == held.target for p in top1])),
        "relevance": float(np.mean(similarities(embedder, ctx_emb_texts, texts))),
        "lexical": sig,
        "lexical_distance": dist["mean"],
        "lexical_distances": dist,
        "length_distance_words": length_distance(texts, target_train),
        **diversity_metrics(texts),
    }


def run_compare(data_dir: str | Path, endpoints: list[Endpoint], settings: CompareSettings, log=print,
                progress=None) -> tuple[dict, HeldOut, dict[str, list[str]]]:
    """Returns (report, held-out cases, replies per endpoint). `progress(description, total)` -> advance()."""
    held = load_heldout(data_dir, settings.limit, settings.history_turns)
    log(f"{len(held.cases)} held-out turns of {held.target}; {len(held.train_turns)} training turns for the style "
        f"classifier; endpoints: {', '.join(e.name for e in endpoints)}")
    for ep in endpoints:
        asyncio.run(check_reachable(ep))
    style = train_authorship(held.train_turns, held.target, settings.seed)
    vocab = signature_words(held.train_turns, held.target)
    profile = signature([t for s, t in held.train_turns if s == held.target], vocab)
    embedder = Embedder()
    contexts = [context_text(c.context) for c in held.cases]
    real = [c.reply for c in held.cases]
    names_file = Path(data_dir) / "openai_names.json"
    openai_names = json.loads(names_file.read_text(encoding="utf-8")) if names_file.exists() else {}

    report = {"target": held.target, "cases": len(held.cases), "data": str(data_dir),
              "settings": {k: v for k, v in settings.__dict__.items()},
              "style_classifier": {"speakers": style.speakers, "target_signature_words": sorted(vocab)[:50]},
              "reference": _score(real, held, style, vocab, profile, contexts, embedder),
              "endpoints": {}}
    replies: dict[str, list[str]] = {}
    for ep in endpoints:
        # the hosted API takes only sanitized names: the ones prep wrote for the OpenAI fine-tuning files
        names = NameSanitizer.from_mapping(openai_names) if is_openai_api(ep.base_url) else None
        conversations = [render_turns(c.context, held.system_prompt, names) for c in held.cases]
        advance = progress(f"{ep.name}: held-out replies", len(conversations)) if progress else None
        gens, wall = asyncio.run(generate(ep, conversations, settings.max_tokens, settings.concurrency,
                                          settings.temperature, advance))
        texts = [g.text for g in gens]
        replies[ep.name] = texts
        latencies = [g.seconds for g in gens if g.error is None]
        row = {"base_url": ep.base_url, "model": ep.model,
               **_score(texts, held, style, vocab, profile, contexts, embedder),
               "errors": sum(g.error is not None for g in gens),
               "latency_median_s": statistics.median(latencies) if latencies else None,
               "latency_p90_s": float(np.quantile(latencies, 0.9)) if latencies else None,
               "tokens_per_s": sum(g.completion_tokens for g in gens) / wall if wall else None,
               "completion_tokens_mean": float(np.mean([g.completion_tokens for g in gens]))}
        errors = [g.error for g in gens if g.error]
        if errors:
            log(f"{ep.name}: {len(errors)} requests failed, e.g. {errors[0]}")
        advance = progress(f"{ep.name}: self-play", settings.selfplay_chats * settings.selfplay_turns) \
            if progress else None
        play = asyncio.run(self_play(ep, held.partner_scripts, held.system_prompt, settings.selfplay_chats,
                                     settings.selfplay_turns, settings.max_tokens, settings.history_turns,
                                     settings.temperature, settings.concurrency, advance, names))
        row["loop_rate"] = play["loop_rate"]
        row["selfplay"] = {k: v for k, v in play.items() if k != "transcripts"}
        row["selfplay_transcripts"] = play.get("transcripts", [])
        report["endpoints"][ep.name] = row
        log(f"{ep.name}: style_target_prob {row['style_target_prob']:.3f}, loop_rate {row['loop_rate']}, "
            f"{row['tokens_per_s']:.1f} tokens/s")
    if settings.adapters:
        _heldout_losses(report, settings.adapters, data_dir, endpoints, log)
    return report, held, replies


def _heldout_losses(report: dict, adapters: dict[str, str], data_dir, endpoints: list[Endpoint], log) -> None:
    """Held-out loss on the target's turns for local models: the adapter's for its endpoint, the base model's
    for any endpoint serving that base under its served name."""
    from clonekit.manifest import read_manifest
    from serve.launcher import base_served_name
    from train.evaluate import heldout_loss

    report["heldout_loss"] = {}
    for name, run in adapters.items():
        log(f"held-out loss of {run} and its base on {data_dir}/valid.jsonl ...")
        result = heldout_loss(run, data_dir)
        report["heldout_loss"][name] = {"run": str(run), **result}
        if name in report["endpoints"]:
            report["endpoints"][name]["heldout_loss"] = result["adapter"]["loss"]
            report["endpoints"][name]["heldout_perplexity"] = result["adapter"]["perplexity"]
        base_name = base_served_name(read_manifest(run)["base"]["id"])
        for ep in endpoints:
            if ep.model == base_name and ep.name in report["endpoints"]:
                report["endpoints"][ep.name]["heldout_loss"] = result["base"]["loss"]
                report["endpoints"][ep.name]["heldout_perplexity"] = result["base"]["perplexity"]
