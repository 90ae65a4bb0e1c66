"""Benchmark: tokenizing 100,000 chat examples with the loss mask, cold and from the cache.

    .venv/bin/python scripts/bench_tokenize.py [--examples 100000]

The examples are the sample corpus's training examples repeated (each copy with a distinct first user line, so no
two are the same) and written as one train.jsonl. In the same run it times:
  serial      train/tokenize.tokenize_dataset over the list (one process, no cache): the baseline;
  datasets    train/dataset.tokenized_split, first run (datasets.map, worker processes from 20,000 examples);
  cached      the same call again: the Arrow file is memory-mapped, nothing is tokenized.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--examples", type=int, default=100_000)
    args = ap.parse_args()
    from clonekit.config import PrepConfig
    from clonekit.data_prep.build import build_datasets
    from clonekit.data_prep.parse import parse_exports
    from clonekit.samples.exports import write_sample
    from clonekit.train.dataset import tokenized_split
    from clonekit.train.template import load_template
    from clonekit.train.tiny import default_hf_tokenizer
    from clonekit.train.tokenize import load_examples, tokenize_dataset

    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        os.environ["CLONEKIT_CACHE"] = str(d / "cache")
        info = write_sample(d / "s", corpus="small")
        parse_exports([d / "s" / info["files"]["telegram"]], d / "m.jsonl")
        build_datasets(d / "m.jsonl", d / "ds", PrepConfig(target=info["target"], valid_fraction=0))
        seed = load_examples(d / "ds" / "train.jsonl")
        path = d / "train.jsonl"
        with open(path, "w", encoding="utf-8") as f:
            for i in range(args.examples):
                messages = [dict(m) for m in seed[i % len(seed)]]
                first_user = next(k for k, m in enumerate(messages) if m["role"] == "user")
                messages[first_user]["content"] = f"#{i} " + messages[first_user]["content"]
                f.write(json.dumps({"messages": messages}, ensure_ascii=False) + "\n")
        tok = default_hf_tokenizer()
        template = load_template("auto", tok)

        started = time.perf_counter()
        _, serial_stats = tokenize_dataset(tok, template, load_examples(path), 1024)
        serial = time.perf_counter() - started
        started = time.perf_counter()
        cold = tokenized_split(path, tok, template, 1024)
        mapped = time.perf_counter() - started
        started = time.perf_counter()
        warm = tokenized_split(path, tok, template, 1024)
        cached = time.perf_counter() - started
    assert warm.cached
    assert not cold.cached
    assert cold.stats.tokens == serial_stats.tokens
    n = args.examples
    print(f"\ntokenize benchmark: {n:,} examples, {serial_stats.tokens:,} tokens, {os.cpu_count()} cores")
    print(f"{'path':10} {'seconds':>8} {'examples/s':>11} {'vs serial':>10}")
    for name, seconds in (("serial", serial), ("datasets", mapped), ("cached", cached)):
        print(f"{name:10} {seconds:8.2f} {n / seconds:11,.0f} {serial / seconds:9.1f}x")


if __name__ == "__main__":
    main()
