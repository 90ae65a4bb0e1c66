"""`clonekit compare`, the gate and `clonekit evolve`."""

from __future__ import annotations

from pydantic import Field

from clonekit.config.base import StrictModel


class GateConfig(StrictModel):
    """The gate a candidate passes before anyone may approve it (learn/gate.py)."""

    stability_budget: float = Field(
        0.02,
        ge=0,
        description="relative rise of held-out loss on the original validation set",
    )
    cases: int = Field(
        40,
        ge=4,
        description="held-out turns asked of live and candidate",
    )
    selfplay_chats: int = Field(12, ge=0, description="self-play chats per version (loop rate)")
    selfplay_turns: int = Field(6, ge=2, description="clone turns per self-play chat")
    max_tokens: int = Field(32, ge=4, description="max new tokens per reply")
    concurrency: int = Field(16, ge=1, description="requests in flight per version")
    seed: int = Field(0, description="seed of the self-play and the intervals")


class CompareSettings(StrictModel):
    """`clonekit compare`: what is asked of each endpoint and how."""

    limit: int | None = Field(None, ge=1, description="ask at most N held-out turns (spread over the sessions)")
    max_tokens: int = Field(64, ge=1, description="max new tokens per reply")
    temperature: float | None = Field(
        None, description="same temperature for every endpoint (default: each endpoint's own)"
    )
    concurrency: int = Field(4, ge=1, description="requests in flight per endpoint")
    selfplay_chats: int = Field(100, ge=0, description="self-play chats per endpoint for loop_rate")
    selfplay_chats_for: dict[str, int] = Field(
        default_factory=dict, description="endpoint name -> its own number of self-play chats"
    )
    selfplay_turns: int = Field(10, ge=1, description="clone turns per self-play chat")
    guarded: list[str] | None = Field(
        None, description="endpoints also self-played through the bot's core with its loop guard (None: all)"
    )
    history_turns: int = Field(
        20, ge=1, description="turns of conversation before each reply (held-out contexts and self-play)"
    )
    adapters: dict[str, str] = Field(
        default_factory=dict, description="endpoint name -> adapter run: held-out loss of it (and of its base)"
    )
    seed: int = Field(0, description="seed of the self-play and the bootstrap intervals")
    speak_runs: dict[str, str] = Field(
        default_factory=dict,
        description="endpoint name -> adapter run whose calibrated speak threshold the held-out replay uses",
    )
    facts: str | None = Field(
        None,
        description="facts file (JSON lines: person, question, answer, asked; `clonekit sample` writes facts.jsonl): "
        "the --speak endpoints answer the held-out ones with and without the dataset's memory.sqlite",
    )


class EvolveConfig(StrictModel):
    """`clonekit evolve`: a candidate from new chats and feedback, trained from the live adapter in a sandbox."""

    store: str | None = Field(
        None,
        description="the bot's conversation store (SQLite); consented channels only",
    )
    replay_ratio: float = Field(
        2.0,
        ge=0,
        description="original training examples replayed per new example",
    )
    dpo_min_pairs: int = Field(
        4,
        ge=1,
        description="preference tuning on corrections when there are at least this many",
    )
    max_steps: int = Field(
        30,
        description="SFT steps on the new material (-1: `epochs` of it)",
    )
    epochs: float = Field(2.0, gt=0)
    learning_rate: float = Field(
        1e-4,
        gt=0,
        description="lower than a first training: the live adapter is a good start",
    )
    dpo_max_steps: int = 12
    dpo_learning_rate: float = Field(
        5e-5,
        gt=0,
        description="gentle: a few corrections must not drag the whole style",
    )
    gate: GateConfig = GateConfig()
    # policy: a change that passes the gate and is minor may be approved automatically (off: a person approves)
    auto_approve_minor: bool = False
    major_new_share: float = Field(
        0.25,
        ge=0,
        le=1,
        description="more new data than this share of the candidate's examples",
    )
    major_loss_rise: float = Field(
        0.0,
        ge=0,
        description="or held-out loss rising more than this (relative): a major change",
    )
