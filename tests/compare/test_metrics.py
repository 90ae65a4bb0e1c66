"""compare's pieces on the sample corpus and on hand-made inputs: held-out cases, the style classifier, the
lexical signature, repetition and loops, endpoint specs, and the report files with the blind A/B key."""

import json
import re

import pytest

from clonekit.compare.cases import load_heldout
from clonekit.compare.diversity import distinct_n, diversity_metrics, self_repetition
from clonekit.compare.endpoints import parse_endpoint
from clonekit.compare.lexical import distances, signature, signature_words, w1_distance, word_counts
from clonekit.compare.report import write_report
from clonekit.compare.style import train_authorship
from clonekit.config import CompareSettings
from clonekit.contracts import CompareReport
from clonekit.errors import ClonekitError
from tests.helpers import sample_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return sample_dataset(tmp_path_factory.mktemp("compare_ds"), weeks=6, export="whatsapp")


def test_heldout_cases_are_the_valid_target_turns_with_their_context(dataset):
    held = load_heldout(dataset)
    valid = [json.loads(line) for line in (dataset / "sessions.jsonl").read_text().splitlines()]
    expected = sum(
        1
        for s in valid
        if s["split"] == "valid"
        for i, t in enumerate(s["turns"])
        if t["target"] and i > 0 and "\n".join(t["messages"]).strip() != "<media>"
    )
    assert held.target == "Deniz"
    assert len(held.cases) == expected > 5
    for case in held.cases:
        assert case.context, case.id
        assert case.reply, case.id
        last = case.context[-1]
        assert not last.is_target, case.id  # the turn before a target turn is someone else's (turns are merged)
        assert last.speaker != "Deniz", case.id
    assert {s for s, _ in held.train_turns} == {"Deniz", "Maya", "Oliver", "Priya"}
    limited = load_heldout(dataset, limit=4)
    assert len(limited.cases) == 4
    assert limited.cases[-1].id != held.cases[3].id
    with pytest.raises(ClonekitError, match="not a dataset directory"):
        load_heldout(dataset.parent)


def test_style_classifier_prefers_the_targets_real_replies(dataset):
    held = load_heldout(dataset)
    model = train_authorship(held.train_turns, "Deniz")
    real = model.target_probs([c.reply for c in held.cases]).mean()
    others = [t.text for c in held.cases for t in c.context if not t.is_target]
    assert real > 0.6
    assert model.target_probs(others).mean() < 0.3
    assert model.target_probs(["I'm sorry, but as an AI language model I cannot do that."]).mean() < 0.5
    with pytest.raises(ClonekitError, match="at least one other speaker"):
        train_authorship([("Deniz", "tamam")], "Deniz")


def test_lexical_signature_and_distances():
    turns = [
        ("Deniz", "tamam abi geliyorum"),
        ("Deniz", "abi tamam"),
        ("Deniz", "abi bence olur"),
        ("Maya", "ok lol"),
        ("Maya", "tamam lol"),
    ]
    vocab = signature_words(turns, "Deniz")
    assert "abi" in vocab
    assert "lol" not in vocab
    sig = signature(["tamam abi", "Sure! I'd love to."], vocab)
    assert sig["lowercase_rate"] == 0.5
    assert sig["end_punct_rate"] == 0.5
    assert sig["signature_word_rate"] == 1 / 6
    assert signature(["çok iyi 🙏"], vocab)["emoji_rate"] == 1.0
    assert signature(["çok iyi"], vocab)["non_ascii_word_rate"] == 0.5
    assert distances(sig, sig)["mean"] == 0.0
    assert w1_distance(word_counts(["a b", "a b c"]), word_counts(["a b", "a b c", " "])) == 0.0
    assert w1_distance(word_counts(["a"]), word_counts(["a b c d e"])) == 4.0


def test_diversity():
    assert distinct_n(["a b c", "a b c"], 1) == 0.5
    assert self_repetition(["lol", "LOL!", "ok"]) == pytest.approx(2 / 3)
    m = diversity_metrics(["lol lol lol lol", "", "ok"])
    assert m["degenerate_rate"] == 0.5
    assert m["empty_rate"] == pytest.approx(1 / 3)


def test_endpoint_specs():
    e = parse_endpoint("hosted=https://api.openai.com/v1,ft:gpt-4o-mini:acme::abc,OPENAI_API_KEY")
    assert (e.name, e.base_url, e.model, e.key_env) == (
        "hosted",
        "https://api.openai.com/v1",
        "ft:gpt-4o-mini:acme::abc",
        "OPENAI_API_KEY",
    )
    assert parse_endpoint("clone=http://127.0.0.1:8000/v1,clone").key_env is None
    for bad in ("clone", "clone=http://x", "=http://x,m", "a=b,c,d,e"):
        with pytest.raises(ClonekitError, match="NAME=BASE_URL,MODEL"):
            parse_endpoint(bad)


def test_report_files_and_blind_key(dataset, tmp_path):
    held = load_heldout(dataset, limit=8)
    replies = {"clone": [f"clone reply {i}" for i in range(8)], "base": ["As an AI, I can help."] * 8}
    row = {
        "style_target_prob": 0.5,
        "loop_rate": 0.25,
        "relevance": 0.3,
        "tokens_per_s": 10.0,
        "intervals": {"style_target_prob": [0.45, 0.55]},
        "selfplay_transcripts": {"raw": [["a", "b"]], "guarded": [["a", "c"]]},
    }
    report = CompareReport(
        target="Deniz",
        cases=8,
        data=str(dataset),
        settings=CompareSettings(),
        style_classifier={},
        target_phrases=[],
        reference={"style_target_prob": 0.9},
        endpoints={"clone": dict(row), "base": dict(row, style_target_prob=0.1)},
    )
    out = write_report(report, held, replies, tmp_path / "rep")
    for name in (
        "report.json",
        "report.md",
        "report.html",
        "metrics.png",
        "lengths.png",
        "replies.jsonl",
        "selfplay.jsonl",
        "ab_sheet.md",
        "ab_key.json",
    ):
        assert (out / name).stat().st_size > 0, name
    saved = json.loads((out / "report.json").read_text())
    assert saved["endpoints"]["base"]["style_target_prob"] == 0.1
    assert "selfplay_transcripts" not in saved["endpoints"]["clone"]
    assert (
        "| style: P(target) (classifier) | 0.900 | 0.500 [0.450, 0.550] | 0.100 [0.450, 0.550] |"
        in (out / "report.md").read_text()
    )
    modes = [json.loads(line)["mode"] for line in (out / "selfplay.jsonl").read_text().splitlines()]
    assert modes == ["raw", "guarded", "raw", "guarded"]
    sheet, key = (out / "ab_sheet.md").read_text(), json.loads((out / "ab_key.json").read_text())
    assert "clone" not in sheet.split("\n", 3)[3].replace("clone reply", "")  # the sheet does not tell which is which
    by_case = {c.id: c for c in held.cases}
    for n, item in key["items"].items():
        block = sheet.split(f"## {n}\n")[1].split("## ")[0]
        real_letter = "A" if item["A"] == "real" else "B"
        shown = re.search(rf"- \*\*{real_letter}:\*\* (.*)", block).group(1)
        assert shown == by_case[item["case"]].reply.replace("\n", " / ")
    assert "data:image/png;base64," in (out / "report.html").read_text()


def test_bootstrap_intervals():
    from clonekit.compare.intervals import interval, mean_interval

    lo, hi = mean_interval([0.0] * 50 + [1.0] * 50)
    assert lo < 0.5 < hi
    assert hi - lo < 0.25
    assert mean_interval([1.0]) is None  # one unit: no interval
    assert mean_interval([1.0] * 20) == [1.0, 1.0]
    lo, hi = interval(list(range(100)), lambda xs: float(max(xs)), resamples=200)
    assert 90 <= lo <= hi == 99
    from clonekit.compare.diversity import distinct_n
    from clonekit.compare.intervals import jackknife_interval

    texts = [f"reply number {i} about pizza" for i in range(40)] + ["ok lol"] * 10
    value = distinct_n(texts, 2)
    lo, hi = jackknife_interval(texts, lambda xs: distinct_n(xs, 2))
    assert lo < value < hi  # a bootstrap resample repeats replies: for distinct-n it would fall below the value


def test_phrase_overuse():
    from clonekit.compare.phrases import overuse, target_phrases

    turns = ["lol ok", "see u at 8 lol", "pizza tn", "omg pizza", "i cant", "the thing", "lol"] * 3
    phrases = target_phrases(turns, top=5)
    assert dict(phrases)["lol"] == pytest.approx(3 / 7)
    assert "the" not in dict(phrases)  # function words alone are no habit
    result = overuse(["lol"] * 9 + ["pizza"], phrases)
    assert result["worst_phrase"] == "lol"
    assert result["worst_ratio"] == pytest.approx(0.9 / (3 / 7))
    assert overuse(turns, phrases)["worst_ratio"] == pytest.approx(1.0)  # the real replies: no over-use


def test_selfplay_summary_uses_the_one_loop_definition():
    from clonekit.compare.selfplay import chat_stats, summarize

    assert chat_stats(["lol", "LOL!", "lol"])["loop"]
    assert not chat_stats(["lol", "", "ok", "lol"])["loop"]
    assert chat_stats(["a b", "c", "a b!"])["cross_turn_repeats"] == 1
    s = summarize([["lol", "lol", "lol"], ["x", "y", "", "z"]])
    assert s["loop_rate"] == 0.5
    assert s["cross_turn_repeat_rate"] == pytest.approx(2 / 6)
    assert s["empty_replies"] == 1
