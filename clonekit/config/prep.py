"""`clonekit prep build`: sessions, datasets, redaction, persona, memory."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from clonekit.config.base import StrictModel


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
