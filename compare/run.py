"""`clonekit compare`: ask every endpoint the held-out contexts, score the replies, measure loops and speed."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clonekit import default_model
from clonekit.chat import NameSanitizer, is_openai_api, render_turns
from clonekit.compare.cases import HeldOut, load_heldout
from clonekit.compare.diversity import distinct_n, diversity_metrics, self_repetition
from clonekit.compare.endpoints import Endpoint, check_reachable, generate
from clonekit.compare.intervals import interval, jackknife_interval, mean_interval
from clonekit.compare.lexical import distances, signature, signature_words, w1_distance, word_counts, words
from clonekit.compare.phrases import overuse, phrase_grams, target_phrases
from clonekit.compare.relevance import context_text, similarities
from clonekit.compare.selfplay import guarded_self_play, self_play
from clonekit.compare.style import AuthorshipModel, train_authorship
from clonekit.config import CompareSettings
from clonekit.contracts import CompareReport, MemoryRecall, SpeakSummary
from clonekit.dataset import NAMES_FILE
from clonekit.errors import ClonekitError
from clonekit.memory import Embedder
from clonekit.repetition import is_degenerate


@dataclass
class _Scorer:
    """Everything the reply metrics are measured against, built once from the dataset."""

    held: HeldOut
    style: AuthorshipModel
    vocab: set[str]
    profile: dict
    target_lengths: np.ndarray
    phrases: list[tuple[str, float]]
    embedder: Embedder
    contexts: list[str]
    seed: int

    def score(self, texts: list[str]) -> dict:
        """Reply metrics over held-out contexts, each with a 95 % bootstrap interval in `intervals`."""
        probs = self.style.target_probs(texts)
        top1 = [float(p == self.held.target) for p in self.style.pipeline.predict([t or " " for t in texts])]
        sims = similarities(self.embedder, self.contexts, texts)
        sig = signature(texts, self.vocab)
        dist = distances(sig, self.profile)
        nonempty = [t for t in texts if t.strip()]
        lengths = np.array(word_counts(texts), dtype=float)

        def lexical(xs):
            return distances(signature(xs, self.vocab), self.profile)["mean"]

        def length(xs):
            return w1_distance(np.asarray(xs, dtype=float), self.target_lengths)

        div = diversity_metrics(texts)
        s = self.seed
        return {
            "style_target_prob": float(np.mean(probs)),
            "style_top1_rate": float(np.mean(top1)),
            "relevance": float(np.mean(sims)),
            "lexical": sig,
            "lexical_distance": dist["mean"],
            "lexical_distances": dist,
            "length_distance_words": length(lengths),
            **div,
            "intervals": {
                "style_target_prob": mean_interval(probs, s),
                "style_top1_rate": mean_interval(top1, s),
                "relevance": mean_interval(sims, s),
                "lexical_distance": interval(texts, lexical, s, 300),
                "length_distance_words": interval(list(lengths), length, s, 300),
                "distinct_2": jackknife_interval(texts, lambda xs: distinct_n(xs, 2)),
                "self_repetition": jackknife_interval(texts, self_repetition),
                "degenerate_rate": mean_interval([float(is_degenerate(t)) for t in nonempty], s),
            },
        }


def _loop_metrics(play: dict, prefix: str, seed: int) -> tuple[dict, dict]:
    """Self-play figures (named with `prefix`) and their intervals, resampling chats."""
    chats = play.get("per_chat", [])
    if not chats:
        return {f"loop_rate{prefix}": None}, {}
    values = {
        f"loop_rate{prefix}": play["loop_rate"],
        f"cross_turn_repeat_rate{prefix}": play["cross_turn_repeat_rate"],
    }
    intervals = {
        f"loop_rate{prefix}": mean_interval([float(c["loop"]) for c in chats], seed),
        f"cross_turn_repeat_rate{prefix}": interval(
            chats,
            lambda cs: sum(c["cross_turn_repeats"] for c in cs) / max(1, sum(c["replies"] for c in cs)),
            seed,
            500,
        ),
    }
    if play.get("attempts"):
        k, n = play["guard_rejections"], play["attempts"]
        values["guard_rejection_rate"] = k / n
        intervals["guard_rejection_rate"] = mean_interval([1.0] * k + [0.0] * (n - k), seed)
    return values, intervals


def _overuse_metrics(transcripts: list[list[str]], phrases: list[tuple[str, float]], seed: int) -> tuple[dict, dict]:
    """Worst phrase over-use over the raw self-play replies, its interval resampling chats."""
    chats = [[r for r in t if r.strip()] for t in transcripts]
    flat = [r for c in chats for r in c]
    if not flat or not phrases:
        return {"phrase_overuse_worst": None}, {}
    result = overuse(flat, phrases)
    real = np.array([r for _, r in phrases])
    grams = [[_has_phrases(r, phrases) for r in c] for c in chats]  # per chat: (replies, phrases) booleans
    counts = np.array([np.sum(g, axis=0) if g else np.zeros(len(phrases)) for g in grams])  # (chats, phrases)
    sizes = np.array([len(g) for g in grams], dtype=float)
    rng = np.random.default_rng(seed)
    worst = []
    for _ in range(500):
        idx = rng.integers(0, len(chats), size=len(chats))
        n = sizes[idx].sum()
        if n:
            worst.append(float(np.max(counts[idx].sum(axis=0) / n / real)))
    iv = [float(np.percentile(worst, 2.5)), float(np.percentile(worst, 97.5))] if worst else None
    return (
        {
            "phrase_overuse_worst": result["worst_ratio"],
            "phrase_overuse_worst_phrase": result["worst_phrase"],
            "phrase_overuse": result["phrases"],
        },
        {"phrase_overuse_worst": iv},
    )


def _has_phrases(reply: str, phrases: list[tuple[str, float]]) -> np.ndarray:
    grams = phrase_grams(reply)
    return np.array([tuple(p.split()) in grams for p, _ in phrases], dtype=float)


@contextmanager
def _timed(timings: dict[str, float], phase: str):
    """Seconds spent in the block, recorded under `phase`."""
    started = time.perf_counter()
    yield
    timings[phase] = time.perf_counter() - started


@dataclass
class _Comparison:
    """What every step of one comparison shares."""

    data_dir: str | Path
    settings: CompareSettings
    held: HeldOut
    scorer: _Scorer
    openai_names: dict
    timings: dict[str, float]
    log: Callable[[str], None]
    progress: Callable | None

    def bar(self, description: str, total: int):
        return self.progress(description, total) if self.progress else None


def run_compare(
    data_dir: str | Path, endpoints: list[Endpoint], settings: CompareSettings, log=print, progress=None
) -> tuple[CompareReport, HeldOut, dict[str, list[str]]]:
    """Returns (report, held-out cases, replies per endpoint). `progress(description, total)` -> advance()."""
    started = time.perf_counter()
    run = _setup(data_dir, endpoints, settings, log, progress)
    held, scorer = run.held, run.scorer
    real = [c.reply for c in held.cases]
    reference = scorer.score(real)
    reference["phrase_overuse_worst"] = overuse(real, scorer.phrases)["worst_ratio"]
    report: dict[str, Any] = {
        "target": held.target,
        "cases": len(held.cases),
        "data": str(data_dir),
        "settings": settings.model_dump(),
        "style_classifier": {"speakers": scorer.style.speakers, "target_signature_words": sorted(scorer.vocab)[:50]},
        "target_phrases": [{"phrase": p, "real_rate": r} for p, r in scorer.phrases],
        "reference": reference,
        "endpoints": {},
        "timings_s": run.timings,
    }
    replies: dict[str, list[str]] = {}
    run.timings["setup (held-out cases, style classifier, embeddings)"] = time.perf_counter() - started
    for ep in endpoints:
        row, replies[ep.name] = _heldout_row(run, ep)
        _selfplay(run, ep, row)
        report["endpoints"][ep.name] = row
        if ep.name in settings.speak_runs:
            report.update(_speak_and_memory(run, ep))
        log(
            f"{ep.name}: style_target_prob {row['style_target_prob']:.3f}, loop_rate {row['loop_rate']}, "
            f"guarded {row.get('loop_rate_guarded')}, {row['tokens_per_s']:.1f} tokens/s"
        )
    if settings.adapters:
        with _timed(run.timings, "held-out loss (transformers)"):
            _heldout_losses(report, settings.adapters, data_dir, endpoints, log)
    run.timings["total"] = time.perf_counter() - started
    log("time: " + ", ".join(f"{k} {v:.0f} s" for k, v in run.timings.items()))
    return CompareReport.check(report, "the comparison report"), held, replies


def _setup(data_dir, endpoints: list[Endpoint], settings: CompareSettings, log, progress) -> _Comparison:
    """The held-out cases, every endpoint reachable, and what replies are scored against."""
    held = load_heldout(data_dir, settings.limit, settings.history_turns)
    log(
        f"{len(held.cases)} held-out turns of {held.target}; {len(held.train_turns)} training turns for the style "
        f"classifier; endpoints: {', '.join(e.name for e in endpoints)}"
    )
    for ep in endpoints:
        asyncio.run(check_reachable(ep))
    target_train = [t for s, t in held.train_turns if s == held.target]
    vocab = signature_words(held.train_turns, held.target)
    scorer = _Scorer(
        held,
        train_authorship(held.train_turns, held.target, settings.seed),
        vocab,
        signature(target_train, vocab),
        np.array([len(words(t)) for t in target_train], dtype=float),
        target_phrases(target_train),
        Embedder("compare"),
        [context_text(c.context) for c in held.cases],
        settings.seed,
    )
    names_file = Path(data_dir) / NAMES_FILE
    openai_names = json.loads(names_file.read_text(encoding="utf-8")) if names_file.exists() else {}
    return _Comparison(data_dir, settings, held, scorer, openai_names, {}, log, progress)


def _names(run: _Comparison, ep: Endpoint) -> NameSanitizer | None:
    """The hosted API takes only sanitized names: the ones prep wrote for the OpenAI fine-tuning files."""
    return NameSanitizer.from_mapping(run.openai_names) if is_openai_api(ep.base_url) else None


def _heldout_row(run: _Comparison, ep: Endpoint) -> tuple[dict, list[str]]:
    """The endpoint's replies to the held-out contexts, scored; latency and speed."""
    settings, held = run.settings, run.held
    conversations = [render_turns(c.context, held.system_prompt, _names(run, ep)) for c in held.cases]
    advance = run.bar(f"{ep.name}: held-out replies", len(conversations))
    with _timed(run.timings, f"{ep.name}: held-out replies and scores"):
        gens, wall = asyncio.run(
            generate(ep, conversations, settings.max_tokens, settings.concurrency, settings.temperature, advance)
        )
        texts = [g.text for g in gens]
        latencies = [g.seconds for g in gens if g.error is None]
        row = {
            "base_url": ep.base_url,
            "model": ep.model,
            **run.scorer.score(texts),
            "errors": sum(g.error is not None for g in gens),
            "latency_median_s": statistics.median(latencies) if latencies else None,
            "latency_p90_s": float(np.quantile(latencies, 0.9)) if latencies else None,
            "tokens_per_s": sum(g.completion_tokens for g in gens) / wall if wall else None,
            "completion_tokens_mean": float(np.mean([g.completion_tokens for g in gens])),
        }
        row["intervals"]["latency_median_s"] = interval(latencies, lambda xs: float(np.median(xs)), settings.seed, 300)
        errors = [g.error for g in gens if g.error]
        if errors:
            run.log(f"{ep.name}: {len(errors)} requests failed, e.g. {errors[0]}")
    return row, texts


def _selfplay(run: _Comparison, ep: Endpoint, row: dict) -> None:
    """Self-play through a plain client and, for the guarded endpoints, through the bot's loop guard: loop rates,
    phrase over-use, the transcripts."""
    settings, held = run.settings, run.held
    chats = settings.selfplay_chats_for.get(ep.name, settings.selfplay_chats)
    turns_total = chats * settings.selfplay_turns
    advance = run.bar(f"{ep.name}: self-play, plain client", turns_total)
    with _timed(run.timings, f"{ep.name}: self-play, plain client"):
        play = asyncio.run(
            self_play(
                ep,
                held.partner_scripts,
                held.system_prompt,
                chats,
                settings.selfplay_turns,
                settings.max_tokens,
                settings.history_turns,
                settings.temperature,
                settings.concurrency,
                advance,
                _names(run, ep),
            )
        )
    for values, intervals in (
        _loop_metrics(play, "", settings.seed),
        _overuse_metrics(play.get("transcripts", []), run.scorer.phrases, settings.seed),
    ):
        row.update(values)
        row["intervals"].update(intervals)
    row["selfplay"] = {k: v for k, v in play.items() if k not in ("transcripts", "per_chat")}
    row["selfplay_chats"] = play.get("chats")
    transcripts = {"raw": play.get("transcripts", [])}
    if (settings.guarded is None or ep.name in settings.guarded) and chats:
        advance = run.bar(f"{ep.name}: self-play through the bot's guard", turns_total)
        with _timed(run.timings, f"{ep.name}: self-play through the bot's guard"):
            guarded = asyncio.run(
                guarded_self_play(
                    ep,
                    held.partner_scripts,
                    held.system_prompt,
                    held.target,
                    chats,
                    settings.selfplay_turns,
                    settings.max_tokens,
                    settings.history_turns,
                    settings.concurrency,
                    advance,
                    is_openai_api(ep.base_url),
                )
            )
        values, intervals = _loop_metrics(guarded, "_guarded", settings.seed)
        row.update(values)
        row["intervals"].update(intervals)
        row["selfplay_guarded"] = {k: v for k, v in guarded.items() if k not in ("transcripts", "per_chat")}
        transcripts["guarded"] = guarded.get("transcripts", [])
    row["selfplay_transcripts"] = transcripts


def _speak_and_memory(run: _Comparison, ep: Endpoint) -> dict:
    """The held-out sessions replayed through the bot (--speak), and the planted facts asked (--facts)."""
    found: dict[str, Any] = {}
    with _timed(run.timings, f"{ep.name}: held-out sessions replayed through the bot (--speak auto)"):
        found["speak"] = sp = _speak(ep, run.settings.speak_runs[ep.name], run.data_dir, run.held, run.settings)
    run.log(
        f"{ep.name}: speak AUC {sp.auc}, reply rate {sp.bot_reply_rate} "
        f"(real {sp.real_reply_rate}), mentions answered {sp.mentions_answered}"
    )
    if run.settings.facts:
        with _timed(run.timings, f"{ep.name}: planted-fact questions with and without memory"):
            found["memory"] = mem = _memory(ep, run.data_dir, run.held, run.settings)
        run.log(
            f"{ep.name}: memory recall {mem.recall_with:.3f} with, "
            f"{mem.recall_without:.3f} without ({mem.questions} questions)"
        )
    return found


def _speak(ep: Endpoint, run: str, data_dir, held: HeldOut, settings: CompareSettings) -> SpeakSummary:
    from clonekit.compare.speak_eval import load_sessions, replay, speak_summary
    from clonekit.manifest import read_manifest

    speak = read_manifest(run).speak
    if speak is None:
        raise ClonekitError(f"{run} has no calibrated speak threshold (clonekit.json `speak`): retrain it", run)
    records = asyncio.run(
        replay(ep, load_sessions(data_dir), held.target, held.system_prompt, speak.threshold, settings.history_turns)
    )
    summary = {"run": str(run), "threshold": speak.threshold, **speak_summary(records, settings.seed)}
    return SpeakSummary.check(summary, "the speak replay")


def _memory(ep: Endpoint, data_dir, held: HeldOut, settings: CompareSettings) -> MemoryRecall:
    from clonekit.compare.memory_eval import load_facts, memory_recall
    from clonekit.config import MemoryConfig
    from clonekit.dataset import read_prep_manifest

    manifest = read_prep_manifest(data_dir)
    built = manifest.memory.config if manifest.memory is not None else MemoryConfig()
    cfg = built.model_copy(update={"enabled": True})
    assert settings.facts is not None
    facts = load_facts(settings.facts, manifest.split.valid_from)
    if not facts:
        raise ClonekitError("no fact in the facts file is asked in the held-out period", settings.facts)
    result = memory_recall(ep, data_dir, facts, held.system_prompt, cfg, settings.max_tokens, settings.concurrency)
    return MemoryRecall.check({"facts": str(settings.facts), **result}, "the memory check")


def _heldout_losses(report: dict, adapters: dict[str, str], data_dir, endpoints: list[Endpoint], log) -> None:
    """Held-out loss on the target's turns for local models: the adapter's for its endpoint, the base model's
    for any endpoint serving that base under its served name."""
    from clonekit.manifest import read_manifest
    from clonekit.train.evaluate import heldout_loss

    report["heldout_loss"] = {}
    for name, run in adapters.items():
        log(f"held-out loss of {run} and its base on {data_dir}/valid.jsonl ...")
        result = heldout_loss(run, data_dir)
        report["heldout_loss"][name] = {"run": str(run), **result}
        if name in report["endpoints"]:
            report["endpoints"][name]["heldout_loss"] = result["adapter"]["loss"]
            report["endpoints"][name]["heldout_perplexity"] = result["adapter"]["perplexity"]
        base_name = default_model.served_name(read_manifest(run).base.id)
        for ep in endpoints:
            if ep.model == base_name and ep.name in report["endpoints"]:
                report["endpoints"][ep.name]["heldout_loss"] = result["base"]["loss"]
                report["endpoints"][ep.name]["heldout_perplexity"] = result["base"]["perplexity"]
