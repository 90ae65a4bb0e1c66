import json

from clonekit import default_model
from clonekit.config import PrepConfig
from clonekit.data_prep.parse import parse_exports
from clonekit.data_prep.stats import compute_stats
from clonekit.samples.exports import write_sample
from tests.helpers import build_dataset_json


def test_sample_is_seeded_and_the_three_exports_agree(tmp_path):
    a, b = write_sample(tmp_path / "a"), write_sample(tmp_path / "b")
    assert a == b
    for name in a["files"].values():
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    kept = {}
    for platform, name in a["files"].items():
        out = tmp_path / f"{platform}.jsonl"
        parse_exports([tmp_path / "a" / name], out)
        rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
        kept[platform] = [(r["author"], r["text"]) for r in rows if r["kind"] == "text" and not r["is_bot"]]
        assert len({r["author"] for r in rows if r["kind"] == "text"}) >= 4
    assert kept["whatsapp"] == kept["telegram"] == kept["discord"]
    assert len(kept["whatsapp"]) > 500


def test_stats_show_distinct_styles(tmp_path):
    info = write_sample(tmp_path / "s", corpus="small")
    parse_exports([tmp_path / "s" / info["files"]["telegram"]], tmp_path / "m.jsonl")
    build_dataset_json(tmp_path / "m.jsonl", tmp_path / "ds", PrepConfig(target=info["target"]))
    stats = compute_stats(tmp_path / "ds", default_model.tokenizer())
    rows = {r["name"]: r for r in stats.people}
    assert stats.people[0]["name"] == "Deniz"
    assert stats.people[0]["target"]
    assert rows["Priya"]["emoji_rate"] > 0.8
    assert rows["Oliver"]["emoji_rate"] == 0
    assert rows["Oliver"]["punctuation_rate"] > 0.8
    assert rows["Maya"]["punctuation_rate"] < 0.1
    assert rows["Maya"]["lowercase_rate"] > rows["Oliver"]["lowercase_rate"]
    assert rows["Oliver"]["median_chars"] > rows["Maya"]["median_chars"]
    assert all(r["tokens"] > r["messages"] for r in rows.values())


def test_default_tokenizer_round_trips_and_knows_the_chat_markers():
    tok = default_model.tokenizer()
    text = "<|im_start|>user\nMaya: pizza mı? 12:30 🍕<|im_end|>"
    enc = tok.encode(text, add_special_tokens=False)
    assert tok.decode(enc.ids, skip_special_tokens=False) == text
    assert enc.ids[0] == 1
    assert enc.ids[-1] == 2
    assert tok.get_vocab_size() == 49152
