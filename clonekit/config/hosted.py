"""`clonekit hosted`: fine-tuning the same clone on OpenAI, from the same dataset."""

from __future__ import annotations

from pydantic import Field

from clonekit.config.base import StrictModel


class HostedModel(StrictModel):
    """What clonekit needs to know of a model OpenAI fine-tunes: its per-example limit, tokenizer and price."""

    max_example_tokens: int = Field(ge=1, description="tokens one training example may hold")
    encoding: str = Field("o200k_base", description="tiktoken encoding of the model")
    training_price_per_1m: float = Field(ge=0, description="USD per 1M training tokens (tokens x epochs)")


# OpenAI's published figures (platform.openai.com/docs/guides/fine-tuning and /pricing, 2025): the training
# example context and the training price. A config can add models or override any figure (`hosted.models`).
DEFAULT_MODELS = {
    "gpt-4o-mini-2024-07-18": HostedModel(max_example_tokens=65536, training_price_per_1m=3.0),
    "gpt-4o-2024-08-06": HostedModel(max_example_tokens=65536, training_price_per_1m=25.0),
    "gpt-4.1-nano-2025-04-14": HostedModel(max_example_tokens=65536, training_price_per_1m=1.5),
    "gpt-4.1-mini-2025-04-14": HostedModel(max_example_tokens=65536, training_price_per_1m=5.0),
    "gpt-4.1-2025-04-14": HostedModel(max_example_tokens=65536, training_price_per_1m=25.0),
    "gpt-3.5-turbo-0125": HostedModel(max_example_tokens=16385, encoding="cl100k_base", training_price_per_1m=8.0),
}


class HostedConfig(StrictModel):
    """`clonekit hosted finetune|status|cancel`."""

    model: str = Field("gpt-4o-mini-2024-07-18", description="the OpenAI model to fine-tune")
    epochs: int | None = Field(None, ge=1, le=50, description="training epochs (default: OpenAI's choice, `auto`)")
    estimate_epochs: int = Field(
        3, ge=1, description="epochs the cost estimate assumes when `epochs` is left to OpenAI (its usual choice)"
    )
    suffix: str | None = Field(
        None, max_length=64, description="up to 64 characters in the fine-tuned model's name (ft:...:SUFFIX:...)"
    )
    base_url: str = Field("https://api.openai.com/v1", description="the API's base URL")
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the API key")
    poll_seconds: float = Field(10.0, gt=0, description="seconds between two looks at a running job")
    min_examples: int = Field(10, ge=1, description="OpenAI's minimum number of training examples")
    models: dict[str, HostedModel] = Field(
        default_factory=lambda: dict(DEFAULT_MODELS),
        description="per model: the per-example token limit, the tiktoken encoding and the training price",
    )
