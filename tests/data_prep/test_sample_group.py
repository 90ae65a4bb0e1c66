"""The realistic sample corpus: size, people, styles, few repeats, the "lol" writer, topics held over several
turns, and the dataset built from it: leakage and de-duplication in the manifest, end-only loss on copies."""

import json
import re
from collections import Counter, defaultdict

import pytest

from clonekit.config import PrepConfig
from clonekit.data_prep.parse import parse_exports
from clonekit.data_prep.splits import leakage
from clonekit.samples.exports import write_sample
from clonekit.samples.group import NAMES, TARGET, TOPICS, generate_group, is_short_reaction
from tests.helpers import build_dataset_json


@pytest.fixture(scope="module")
def corpus():
    return generate_group()


def _texts(msgs):
    by = defaultdict(list)
    for m in msgs:
        if m.kind == "text":
            by[m.author].append(m.text)
    return by


def test_size_people_and_time_span(corpus):
    assert len(corpus) >= 5000
    assert 4 <= len({m.author for m in corpus}) <= 6
    assert (corpus[-1].time - corpus[0].time).days >= 90  # months, not weeks
    assert generate_group() == corpus  # seeded


def test_people_rarely_repeat_themselves(corpus):
    for name, texts in _texts(corpus).items():
        seen, repeats = set(), 0
        for t in texts:
            repeats += t in seen and not is_short_reaction(t)
            seen.add(t)
        assert repeats / len(texts) <= 0.05, name
        counts = Counter(texts)  # even counting short reactions, nobody lives on one phrase
        assert counts.most_common(1)[0][1] / len(texts) < 0.05, (name, counts.most_common(3))


def test_the_lol_writer(corpus):
    texts = _texts(corpus)[TARGET]
    lol = sum(1 for t in texts if re.search(r"\blol\b", t)) / len(texts)
    assert 0.05 <= lol <= 0.10
    assert sum(t == t.lower() for t in texts) / len(texts) > 0.95
    for other in NAMES:
        if other != TARGET:
            assert not any(re.search(r"\blol\b", t) for t in _texts(corpus)[other]), other


def test_conversations_stay_on_topic(corpus):
    """Messages next to each other in a conversation share the topic's words far more often than messages far
    apart."""
    vocab = {
        w.lower()
        for topic in TOPICS.values()
        for k in ("thing", "place", "detail")
        for phrase in topic[k]
        for w in re.findall(r"[a-zA-Zçğıöşü]{4,}", phrase)
    }
    vocab -= {"that", "with", "place", "the", "new", "near"}
    texts = [m for m in corpus if m.kind == "text"]
    words = [{w.lower() for w in re.findall(r"\w{4,}", m.text)} & vocab for m in texts]

    def share(pairs):
        pairs = [(a, b) for a, b in pairs if words[a] and words[b]]
        return sum(bool(words[a] & words[b]) for a, b in pairs) / len(pairs)

    near = share((i, i + 1) for i in range(len(texts) - 1) if (texts[i + 1].time - texts[i].time).total_seconds() < 300)
    far = share((i, (i + len(texts) // 2) % len(texts)) for i in range(len(texts)))
    assert near > 3 * far, (near, far)


def test_dataset_leakage_and_dedupe(tmp_path):
    info = write_sample(tmp_path / "s")
    assert info["target"] == TARGET
    assert info["messages"] >= 5000
    parse_exports([tmp_path / "s" / info["files"]["whatsapp"]], tmp_path / "m.jsonl")
    m = build_dataset_json(tmp_path / "m.jsonl", tmp_path / "ds", PrepConfig(target=TARGET))
    assert m["leakage"]["valid_target_turns"] >= 100
    assert m["leakage"]["rate"] <= 0.05
    assert m["leakage"] == leakage(tmp_path / "ds/train.jsonl", tmp_path / "ds/valid.jsonl")
    assert m["dedupe"]["max_copies"] == 2
    assert m["dedupe"]["end_only_turns"] > 0


def test_leakage_counts_verbatim_valid_replies(tmp_path):
    def example(*turns):
        return (
            json.dumps(
                {
                    "messages": [{"role": "user", "name": "A", "content": "hi"}]
                    + [{"role": "assistant", "name": "T", "content": c, "weight": w} for c, w in turns]
                }
            )
            + "\n"
        )

    (tmp_path / "train.jsonl").write_text(example(("lol", 1), ("see u at 8", 0)))
    (tmp_path / "valid.jsonl").write_text(example(("lol", 1), ("see u at 8", 1), ("new one", 1), ("lol", 0)))
    assert leakage(tmp_path / "train.jsonl", tmp_path / "valid.jsonl") == {
        "valid_target_turns": 3,
        "in_train_verbatim": 2,
        "rate": round(2 / 3, 4),
    }
