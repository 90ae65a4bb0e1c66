"""The rows SFTTrainer trains on: clonekit's mask survives TRL's label building and padding-free packing, packed
rows give the same log-probabilities as one example at a time (sdpa on the CPU, no flash-attention), and the
tokenized dataset is cached."""

import json
from itertools import pairwise

import pytest
import torch

from clonekit.train.dataset import packed_rows, padding_free_collator, tokenized_split
from clonekit.train.tiny import make_tiny_model
from clonekit.train.tokenize import IGNORE, load_examples, tokenize_dataset
from tests.train.test_tokenize_pack import MESSAGES

OTHER = [MESSAGES[0], MESSAGES[7], MESSAGES[8]]


def write_split(path, examples):
    path.write_text("".join(json.dumps({"messages": m}, ensure_ascii=False) + "\n" for m in examples), encoding="utf-8")
    return path


@pytest.mark.parametrize("attention", ["sdpa", "varlen_sdpa"])
@pytest.mark.parametrize("compact", [False, True])
def test_packed_log_probs_equal_one_example_at_a_time(tmp_path, tok, template, attention, compact, monkeypatch):
    """sdpa: one call over the row with the block-diagonal mask built from position_ids; varlen_sdpa: one call
    per example (train/attention.py). compact: the fused head projecting only labelled positions (what
    train/model.score_only_target_positions turns on for the CPU)."""
    from transformers import AutoModelForCausalLM
    from trl.trainer.utils import add_fused_lm_head

    from clonekit.train.attention import register

    register()
    if compact:
        import trl.trainer.utils

        monkeypatch.setattr(trl.trainer.utils, "_use_triton", lambda device: True)
    model = AutoModelForCausalLM.from_pretrained(
        make_tiny_model(tmp_path / "tiny"), dtype=torch.float32, attn_implementation=attention
    ).eval()
    add_fused_lm_head(model)
    split = tokenized_split(write_split(tmp_path / "train.jsonl", [MESSAGES, OTHER, MESSAGES[:4]]), tok, template, 512)
    rows = packed_rows(split.dataset, 2048)
    assert len(rows) == 1
    assert sorted(rows[0]["seq_lengths"]) == sorted(len(x) for x in split.dataset["input_ids"])
    collate = padding_free_collator(tok.pad_token_id)
    batch = collate([rows[0]])
    assert "attention_mask" not in batch  # the block-diagonal mask comes from position_ids
    with torch.no_grad():
        packed = model(**batch, fused_lm_head=True)
        starts = [i for i, p in enumerate(batch["position_ids"][0].tolist()) if p == 0] + [batch["input_ids"].shape[1]]
        for s, e in pairwise(starts):
            ids = batch["input_ids"][:, s:e]
            labels = batch["labels"][:, s:e].clone()
            alone = model(input_ids=ids, labels=labels, fused_lm_head=True, use_cache=False)
            # log_probs[t] scores token t+1: the packed row's entry at s-1 is the boundary (masked, zero)
            torch.testing.assert_close(packed.log_probs[0, s : e - 1], alone.log_probs[0], atol=1e-4, rtol=1e-4)
            if s:
                assert packed.log_probs[0, s - 1] == 0
                assert not packed.label_mask[0, s - 1]
        logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits
        whole = model(input_ids=batch["input_ids"][:, starts[1] : starts[2]], use_cache=False).logits
        torch.testing.assert_close(logits[0, starts[1] : starts[2]], whole[0], atol=1e-4, rtol=1e-4)


def test_sft_trainer_keeps_clonekits_mask(tmp_path, tok, template):
    """Decoding the tokens SFTTrainer puts the loss on gives exactly the target's turns and their end-of-turn
    tokens, example by example, after TRL built the labels and packed the rows."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    examples = [MESSAGES, OTHER, MESSAGES[:4]]
    split = tokenized_split(write_split(tmp_path / "train.jsonl", examples), tok, template, 512)
    model = AutoModelForCausalLM.from_pretrained(make_tiny_model(tmp_path / "tiny"), dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear", task_type="CAUSAL_LM"))
    args = SFTConfig(
        output_dir=str(tmp_path / "out"),
        packing=True,
        packing_strategy="bfd",
        max_length=2048,
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
        report_to=[],
        max_steps=1,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        processing_class=tok,
        train_dataset=split.dataset.select_columns(["input_ids", "assistant_masks"]),
    )
    batch = trainer.data_collator([trainer.train_dataset[0]])
    starts = [i for i, p in enumerate(batch["position_ids"][0].tolist()) if p == 0] + [batch["input_ids"].shape[1]]
    kept = sorted(tok.decode([t for t in batch["labels"][0, s:e].tolist() if t != IGNORE]) for s, e in pairwise(starts))
    assert kept == sorted(
        [
            "pizza mı? ben varım abi<|im_end|>saat kaçta?<|im_end|>görüşürüz<|im_end|>",
            "görüşürüz<|im_end|>",
            "pizza mı? ben varım abi<|im_end|>",
        ]
    )


def test_the_dataset_matches_the_tokenizer_and_is_cached(tmp_path, tok, template, monkeypatch):
    long = [MESSAGES[0]] + [
        {"role": "user", "name": "Maya", "content": "word " * 30}
        if i % 2 == 0
        else {"role": "assistant", "content": f"reply {i} " * 5, "weight": 1}
        for i in range(12)
    ]
    path = write_split(tmp_path / "train.jsonl", [MESSAGES, OTHER, long])
    first = tokenized_split(path, tok, template, 200)
    reference, stats = tokenize_dataset(tok, template, load_examples(path), 200)
    assert [list(x) for x in first.dataset["input_ids"]] == [r.input_ids for r in reference]
    assert [
        [t if m else IGNORE for t, m in zip(r.input_ids, mask, strict=True)]
        for r, mask in zip(reference, first.dataset["assistant_masks"], strict=True)
    ] == [r.labels for r in reference]
    assert (first.stats.pieces, first.stats.tokens, first.stats.target_tokens) == (
        stats.pieces,
        stats.tokens,
        stats.target_tokens,
    )
    assert first.stats.notes == stats.notes
    assert stats.notes["split_too_long"] >= 1
    assert not first.cached

    from clonekit.train import dataset as train_dataset

    def no_tokenizing(*a, **k):
        raise AssertionError("tokenized again")

    with monkeypatch.context() as patched:
        patched.setattr(train_dataset, "tokenize_with_limit", no_tokenizing)
        again = tokenized_split(path, tok, template, 200)
    assert again.cached
    assert again.dataset["input_ids"] == first.dataset["input_ids"]
    assert again.stats == first.stats
    write_split(path, [MESSAGES, OTHER])  # a changed file is tokenized again
    changed = tokenized_split(path, tok, template, 200)
    assert not changed.cached
    assert changed.stats.examples == 2
    assert not tokenized_split(path, tok, template, 100).cached  # so is another max_seq_len
