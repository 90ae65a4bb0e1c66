"""Typed configuration, one pydantic model per stage, read from YAML. Unknown keys are rejected."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from clonekit.errors import ClonekitError


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class RedactConfig(StrictModel):
    """Personal data replaced by typed placeholders (never dropped silently; counts go to the manifest)."""

    emails: bool = Field(
        True,
        description="alice@example.com, obfuscated ones (alice(at)example.com, alice [at] example [dot] com) and "
        'quoted local parts ("alice smith"@example.com) -> <email>',
    )
    phones: bool = Field(
        True,
        description="+44 7700 900123, (415) 555-2671 -> <phone> (any locale; `region` for national numbers)",
    )
    urls: bool = Field(
        True,
        description="https://..., ftp://..., www...., example.com/x, t.me/x -> <url>",
    )
    ids: bool = Field(
        True,
        description="IBANs, Luhn-valid card numbers, SSN-style numbers, IP addresses -> <iban> <card> <ssn> <ip>",
    )
    numbers: bool = Field(
        True,
        description="remaining digit runs of `min_digits` or more -> <number>",
    )
    addresses: bool = Field(
        True,
        description="street addresses (US, Canada, UK via pyap; German, French, Spanish, Italian, Dutch styles) "
        "-> <address>",
    )
    handles: bool = Field(
        True,
        description="@handles of anyone (@priya_s, @maya.k) -> <handle>",
    )
    min_digits: int = Field(7, ge=4)
    region: str = Field(
        "US",
        min_length=2,
        max_length=2,
        description="country for phone numbers written without +code",
    )


class PersonaConfig(StrictModel):
    """The short system prompt the clone is trained and served with."""

    name: str | None = Field(
        None,
        description="defaults to the target's display name",
    )
    facts: list[str] = Field(
        [],
        description='a few facts, e.g. "lives in Istanbul", "studies CS"',
    )
    style: str | None = Field(
        None,
        description='e.g. "mixes Turkish and English, short lowercase messages"',
    )
    system_prompt: str | None = Field(
        None,
        description='full override; "{name}" is replaced by the name',
    )


class OpenAIExportConfig(StrictModel):
    """Limits of the OpenAI fine-tuning format."""

    max_tokens: int = Field(
        16384,
        ge=256,
        description="per example; estimated as chars / chars_per_token",
    )
    chars_per_token: float = Field(
        3.0,
        gt=0,
        description="conservative (real English is ~4)",
    )


class MemoryConfig(StrictModel):
    """Memory per contact (clonekit/memory.py): what people told the clone, recalled into the system prompt."""

    enabled: bool = Field(
        False,
        description="build DATASET/memory.sqlite and put recalled snippets into training examples' system prompts",
    )
    budget_tokens: int = Field(
        128,
        ge=16,
        description="the memory block's size in the system prompt (estimated at 3 characters a token)",
    )
    top_k: int = Field(
        4,
        ge=1,
        description="snippets recalled at most",
    )
    min_similarity: float = Field(
        0.25,
        ge=-1,
        le=1,
        description="cosine similarity a snippet needs to be recalled",
    )


class PrepConfig(StrictModel):
    """`clonekit prep build`: messages.jsonl -> sessions -> train/valid datasets."""

    target: str | None = Field(
        None,
        description="the person to clone (display name or author_id)",
    )
    aliases: dict[str, str] = Field(
        {},
        description='"old name or id" -> "name or id" merged into one person',
    )
    exclude: list[str] = Field(
        [],
        description="people who did not consent: their text appears in no output",
    )
    nicknames: dict[str, list[str]] = Field(
        {},
        description='other names people are called in the text ("Priya": ["Pri", "P-dog"]): an excluded '
        "person's nicknames are redacted with their names",
    )
    include_bots: bool = Field(
        False,
        description="keep bot messages as named `user` turns",
    )
    media: Literal["placeholder", "drop"] = Field(
        "placeholder",
        description='media-only messages -> "<media>" or dropped',
    )
    redact: RedactConfig = RedactConfig()
    session_gap_minutes: float = Field(
        5.0,
        gt=0,
        description="a longer silence starts a new session",
    )
    max_turns: int = Field(
        24,
        ge=2,
        description="turns per example window",
    )
    max_chars: int = Field(
        6000,
        ge=200,
        description="characters per example window",
    )
    context_turns: int = Field(
        4,
        ge=1,
        description="turns carried over as context into the next window",
    )
    valid_fraction: float = Field(
        0.1,
        ge=0,
        lt=1,
        description="latest sessions held out for validation",
    )
    # near-duplicate target turns in train (same text after lowercasing, whitespace and end punctuation): the first
    # `dedupe_max_copies` keep their loss, later copies keep only their end-of-turn token's; 0 = off
    dedupe_max_copies: int = Field(2, ge=0)
    persona: PersonaConfig = PersonaConfig()
    memory: MemoryConfig = MemoryConfig()
    openai: OpenAIExportConfig = OpenAIExportConfig()

    @model_validator(mode="after")
    def _check(self) -> PrepConfig:
        if self.context_turns >= self.max_turns:
            raise ValueError("context_turns must be smaller than max_turns")
        return self


M = TypeVar("M", bound=BaseModel)


def field_help(schema: type[BaseModel], name: str, note: str = "") -> str:
    """A config field's description as command-line help, with its default read from the model: each setting is
    documented once, in its `Field`, and no help text repeats a default."""
    info = schema.model_fields[name]
    text = (info.description or name).rstrip(".")
    default = info.get_default(call_default_factory=True)
    shown = "" if default in (None, [], {}) else f" (default: {default}{note})"
    return text[:1].upper() + text[1:] + (shown or (f" ({note.lstrip('; ')})" if note else "")) + "."


def apply_sets(cfg: M, sets: list[str] | None) -> M:
    """torchtune-style `--set key=value` overrides of any field, nested ones with dots (`memory.top_k=8`); the
    value is read as YAML (`true`, `8`, `[a, b]`). The result is validated: a wrong key or value names it."""
    if not sets:
        return cfg
    data = cfg.model_dump()
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ClonekitError(f"--set {item!r}: expected KEY=VALUE")
        *path, last = key.strip().split(".")
        node, schema = data, type(cfg)
        for part in path:
            if not isinstance(node.get(part), dict):
                raise ClonekitError(f"--set {item!r}: {type(cfg).__name__} has no section {part!r}")
            node = node[part]
        known = node if path else schema.model_fields
        if last not in known:
            raise ClonekitError(f"--set {item!r}: {type(cfg).__name__} has no field {key.strip()!r}")
        try:
            node[last] = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as e:
            raise ClonekitError(f"--set {item!r}: the value is not YAML ({e})") from None
    try:
        return type(cfg).model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        raise ClonekitError(f"--set: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None


def load_config(schema: type[M], path: str | Path | None = None, **overrides) -> M:
    """Read YAML at `path` (if any) into the `schema` model, apply non-None overrides, validate."""
    data: dict = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ClonekitError("config file not found", path)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            line = getattr(getattr(e, "problem_mark", None), "line", None)
            raise ClonekitError(f"invalid YAML: {e}", path, line + 1 if line is not None else None) from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ClonekitError("a config file must be a YAML mapping", path)
        data = loaded or {}
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return schema.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}" for err in e.errors())
        raise ClonekitError(f"invalid config: {problems}", path) from None


class LoraSettings(StrictModel):
    r: int = Field(
        16,
        ge=1,
        description="rank of the low-rank update",
    )
    alpha: int = Field(
        32,
        ge=1,
        description="scaling: the update is multiplied by alpha / r",
    )
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: str | list[str] = Field(
        "all-linear",
        description='or e.g. ["q_proj", "v_proj"]',
    )


class TrainConfig(StrictModel):
    """`clonekit train`: LoRA/QLoRA fine-tuning with the loss on the target's turns only."""

    base: str = Field(
        "default",
        description='"default" (bundled SmolLM2-135M-Instruct), a local HF model dir, or a hub id',
    )
    template: str = Field(
        "auto",
        description="chat template file; auto: chatml-names for <|im_start|> models, llama3-names for Llama 3",
    )
    speaker_loss: bool = Field(
        False,
        description="the train split also puts the loss on the role word opening each turn (assistant or user): "
        "the model learns who writes next, for the speak score (`--speak auto`); no one else's words are learnt. "
        "Off: the loss falls on the target's turns only",
    )
    max_seq_len: int = Field(
        1024,
        ge=32,
        description="longer examples are split on turn boundaries",
    )
    row_tokens: int = Field(
        2048,
        ge=32,
        description="packed row length: examples are packed into rows of this many tokens",
    )
    rows_per_step: int = Field(
        1,
        ge=1,
        description="gradient accumulation: tokens per optimizer step ~ row_tokens * rows_per_step",
    )
    epochs: float = Field(3.0, gt=0)
    max_steps: int = Field(
        -1,
        description="> 0 overrides epochs",
    )
    learning_rate: float = Field(3e-4, gt=0)
    lr_scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = "cosine"
    warmup_ratio: float = Field(0.05, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    lora: LoraSettings = LoraSettings()
    quantization: Literal["none", "nf4"] = Field(
        "none",
        description="nf4 = QLoRA (bitsandbytes 4-bit NF4; CUDA, and CPU for tests)",
    )
    dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto",
        description="frozen base weights: auto = bfloat16 when autocasting",
    )
    # bf16 autocast of the compute: auto = on for CUDA and for CPUs with native bf16 (AVX512-BF16 or AMX)
    mixed_precision: Literal["auto", "bf16", "no"] = "auto"
    attn_implementation: Literal[
        "auto",
        "varlen_sdpa",
        "varlen_attn",
        "sdpa_nocudnn",
        "flash_attention_2",
        "flash_attention_3",
        "sdpa",
        "flex_attention",
        "eager",
    ] = Field(
        "auto",
        description="auto: per device (train/attention_choice.py): varlen_sdpa on the CPU; on CUDA torch's "
        "varlen_attn, else flash-attn, else sdpa_nocudnn",
    )
    gradient_checkpointing: Literal["auto", "on", "off"] = Field(
        "auto",
        description="auto: the memory plan decides (off where the activations fit the GPU's free memory or "
        "memory_gib, partial in between); off on the CPU without memory_gib",
    )
    memory_gib: float | None = Field(
        None,
        gt=0,
        description="the memory plan's limit in GiB: plan for a smaller card than the one at hand (a 24 GB card: "
        "about 20); default: the GPU's free memory, no limit on the CPU",
    )
    liger: bool = Field(
        False,
        description="Liger's RMSNorm/RoPE/SwiGLU kernels (CUDA only, needs liger-kernel); measured no faster with "
        "TRL's fused loss, so off by default",
    )
    eval_every: int = Field(
        20,
        ge=1,
        description="steps between validation-loss evaluations (and checkpoints)",
    )
    early_stopping_patience: int = Field(
        3,
        ge=0,
        description="evaluations without improvement before stopping; 0 = off",
    )
    save_total_limit: int = Field(2, ge=1)
    seed: int = 0
    threads: int | None = Field(
        None,
        description="CPU threads for torch (default: all cores)",
    )
    # DPO (`clonekit train --method dpo`): preference pairs; the reference is the adapter training starts from
    dpo_beta: float = Field(
        0.1,
        gt=0,
        description="how far the policy may move from the reference (TRL's beta)",
    )

    @model_validator(mode="after")
    def _check_train(self) -> TrainConfig:
        if self.row_tokens < self.max_seq_len:
            raise ValueError("row_tokens must be at least max_seq_len (a row holds at least one example)")
        return self


class DiscordSettings(StrictModel):
    """`clonekit discord`: the Discord front end of the bot."""

    token_env: str = Field(
        "DISCORD_TOKEN",
        description="the bot token is read from this environment variable (never from YAML)",
    )
    channels: list[int | str] = Field(
        [],
        description="allow-list: channel ids or names; the bot reads and writes nowhere else",
    )
    command_prefix: str = Field(
        "!",
        description="!reset, !status, !consent",
    )
    profile: str | None = Field(
        None,
        description='presence text; default "AI clone of NAME (clonekit), not a person"',
    )


class BotConfig(StrictModel):
    """The bot core (Discord and terminal): which endpoint, how to talk, when to answer."""

    base_url: str = Field(
        "http://127.0.0.1:8000/v1",
        description="a `clonekit serve` URL, or https://api.openai.com/v1",
    )
    model: str = Field(
        "clone",
        description="a served clone name, or a hosted fine-tuned model id",
    )
    api_key_env: str = Field(
        "CLONEKIT_API_KEY",
        description="the key is read from this environment variable (never from YAML)",
    )
    clone_name: str | None = Field(
        None,
        description="the person's name (default: the adapter's target)",
    )
    system_prompt: str | None = Field(
        None,
        description="default: the adapter's dataset system prompt",
    )
    adapter: str | None = Field(
        None,
        description="an adapter dir: fills clone_name and system_prompt from its clonekit.json",
    )
    history_turns: int = Field(
        20,
        ge=1,
        description="turns kept per channel",
    )
    quiet_seconds: float = Field(
        25.0,
        ge=0,
        description="reply only after this long without a human message",
    )
    mode: Literal["always", "mention", "auto", "probability"] = Field(
        "always",
        description="when to speak (`--speak`): always; mention (named or replied to); auto (the model's score for "
        "'the person writes next' passes the threshold calibrated in training, or a mention)",
    )
    probability: float = Field(
        0.3,
        ge=0,
        le=1,
        description="for mode: probability",
    )
    speak_threshold: float | None = Field(
        None,
        description="auto: the log-probability threshold (default: the adapter's calibrated one in clonekit.json)",
    )
    max_replies: int = Field(
        6,
        ge=1,
        description="replies at most per channel in any reply_window_seconds, mentions included",
    )
    reply_window_seconds: float = Field(
        300.0,
        gt=0,
        description="the window of max_replies",
    )
    event_log: str | None = Field(
        None,
        description="JSON-lines file: every speak decision (mode, score, threshold, why) and reply",
    )
    memory: str | None = Field(
        None,
        description="memory.sqlite (`prep build` with memory on; `clonekit memory add-store` adds the bot store): "
        "recalled snippets of the people in the chat go into the system prompt",
    )
    memory_budget_tokens: int = Field(128, ge=16, description="the memory block's size in the system prompt")
    memory_top_k: int = Field(4, ge=1, description="snippets recalled at most")
    memory_min_similarity: float = Field(0.25, description="cosine similarity a snippet needs to be recalled")
    typing_seconds_per_char: float = Field(
        0.03,
        ge=0,
        description="typing delay before each bubble",
    )
    max_typing_seconds: float = Field(4.0, ge=0)
    max_tokens: int = Field(96, ge=1)
    timeout_seconds: float = Field(60.0, gt=0)
    max_retries: int = Field(
        4,
        ge=0,
        description="transport retries (timeouts, 429, 5xx) with exponential backoff",
    )
    loop_retries: int = Field(
        2,
        ge=0,
        description="new attempts when a reply loops or repeats a recent one",
    )
    openai_names: bool | None = Field(
        None,
        description="speaker names as the OpenAI API accepts them; None: on for api.openai.com",
    )
    store: str | None = Field(
        None,
        description="SQLite file for opt-in conversation logging (per-channel consent); None = off",
    )
    redact: RedactConfig = Field(
        RedactConfig(),
        description="every reply passes the prep redactor, whatever the adapter learned",
    )
    exclude: list[str] = Field(
        [],
        description="people whose names the clone never writes (as in prep's exclude)",
    )
    # A/B: this share of replies asks `ab_model` (a registry server's `clone-candidate`, `clonekit registry ab`)
    ab_model: str | None = None
    ab_share: float = Field(0.0, ge=0, lt=1)
    registry: str | None = Field(
        None,
        description="a registry dir: feedback events go into its audit log (`clonekit registry`)",
    )
    disclose: bool = Field(
        True,
        description='a sincere "are you a bot?" gets `disclosure`, whatever the model would say',
    )
    disclosure: str | None = Field(
        None,
        description='default: "I\'m an AI clone of NAME (clonekit), not NAME in person."',
    )
    discord: DiscordSettings = DiscordSettings()


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
