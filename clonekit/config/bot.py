"""`clonekit chat` and `discord`: the endpoint, the clone's identity, when to speak, memory, the loop guard."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from clonekit.config.base import StrictModel
from clonekit.config.prep import RedactConfig


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
        description="a `clonekit serve` URL, or https://api.openai.com/v1; on the command line also an endpoint file "
        "(`clonekit hosted finetune` writes one)",
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
