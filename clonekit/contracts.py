"""The files one stage writes and a later stage reads, as typed models: the dataset manifest (`prep build`), the
evolve material's manifest, a sessions.jsonl row, the adapter manifest (`clonekit.json`, holding its TrainConfig),
a registry version (`version.json`), an audit record, the gate's verdict.

Every writer writes the model and every reader reads it, so a field's name, type and default live here once. A file
with a missing or mistyped field is a `ClonekitError` naming the file and the field (`sessions.train: Field
required`), never a silent default. Files written before a field existed are listed in MIGRATIONS: the field and
the value an old file means by leaving it out (docs/contracts.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clonekit.chat import Turn
from clonekit.config import CompareSettings, MemoryConfig, PrepConfig, TrainConfig
from clonekit.errors import ClonekitError


def read_json(path: Path) -> Any:
    """A JSON file's content, or one error naming the file (and the line and column of bad JSON)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ClonekitError(f"column {e.colno}: invalid JSON: {e.msg}", path, e.lineno) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ClonekitError(f"cannot read: {e}", path) from None


class Contract(BaseModel):
    """A file's model: unknown fields are kept (a newer clonekit may add some), missing or mistyped ones are not."""

    model_config = ConfigDict(extra="allow")

    @classmethod
    def check(cls, data: Any, where: str | Path, line: int | None = None) -> Self:
        """`data` as this model, or one clear error naming `where` and the first wrong field."""
        if not isinstance(data, dict):
            raise ClonekitError(f"must be a JSON object, not {type(data).__name__}", where, line)
        try:
            return cls.model_validate({**MIGRATIONS.get(cls.__name__, {}), **data})
        except ValidationError as e:
            err = e.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "(top level)"
            more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
            raise ClonekitError(f"field {field}: {err['msg']}{more}", where, line) from None

    @classmethod
    def load(cls, path: str | Path) -> Self:
        return cls.check(read_json(Path(path)), path)

    def to_json(self) -> dict:
        return self.model_dump(mode="json", exclude_unset=True)

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return path


# ---------------------------------------------------------------------------------------- the dataset (prep build)


class InputFile(Contract):
    path: str
    bytes: int
    sha256: str


class MessageCounts(Contract):
    read: int
    kept: int
    skipped: dict[str, int]


class SourceCounts(Contract):
    kept: int
    target: int


class SessionCounts(Contract):
    total: int
    without_target: int
    train: int
    valid: int


class ExampleCounts(Contract):
    train: int
    valid: int
    target_turns_train: int
    target_turns_valid: int


class SplitInfo(Contract):
    valid_from: str | None
    by: str


class DedupeInfo(Contract):
    max_copies: int
    by: str
    end_only_turns: int
    distinct_texts: int
    openai_examples_dropped: int


class LeakageInfo(Contract):
    valid_target_turns: int
    in_train_verbatim: int
    rate: float


class OpenAIFiles(Contract):
    train: int
    valid: int
    split_too_long: int
    dropped_too_long: int
    names: dict[str, str]


class MemorySummary(Contract):
    file: str
    snippets: int
    examples_without_memory: int = 0
    examples_with_memory: int = 0
    config: MemoryConfig


class DatasetManifest(Contract):
    """manifest.json of a dataset directory, as `clonekit prep build` writes it."""

    clonekit_version: str
    created: str
    target: str
    target_ids: list[str]
    system_prompt: str
    config: PrepConfig
    inputs: list[InputFile]
    messages: MessageCounts
    sources: dict[str, SourceCounts]
    sessions: SessionCounts
    examples: ExampleCounts
    split: SplitInfo
    dedupe: DedupeInfo | None = None
    leakage: LeakageInfo | None = None
    redaction: dict[str, int]
    openai: OpenAIFiles
    files: list[str]
    memory: MemorySummary | None = None


class MaterialManifest(Contract):
    """manifest.json of an evolve material directory (train.jsonl, valid.jsonl, pairs.jsonl)."""

    clonekit_version: str
    kind: str = Field(pattern="^evolve material$")
    target: str
    system_prompt: str
    counts: dict[str, int]
    new_share: float
    config: PrepConfig
    original: str
    inputs: dict[str, str | None]
    files: list[str]
    train_sha256: str


def read_any_dataset_manifest(path: str | Path) -> DatasetManifest | MaterialManifest:
    """A dataset directory's manifest.json: prep's, or evolve material's (which says so in `kind`)."""
    path = Path(path)
    raw = read_json(path)  # read once, checked as the model its `kind` names
    if isinstance(raw, dict) and raw.get("kind") == "evolve material":
        return MaterialManifest.check(raw, path)
    return DatasetManifest.check(raw, path)


class SessionTurn(Contract):
    name: str
    target: bool
    messages: list[str]
    time: str | None = None


class SessionRow(Contract):
    """One line of sessions.jsonl: a session in time order, its split ("train", "valid", or "none": no target turn),
    and its turns (consecutive messages of one speaker, joined as prep merged them)."""

    split: str = Field(pattern="^(train|valid|none)$")
    turns: list[SessionTurn]

    def chat_turns(self) -> list[Turn]:
        return [Turn(t.name, t.target, list(t.messages), t.time) for t in self.turns]


# ------------------------------------------------------------------------------------ the adapter (clonekit train)


class BaseRef(Contract):
    id: str
    path: str
    sha256: str | None = None


class DatasetRef(Contract):
    dir: str
    manifest_sha256: str | None
    target: str | None
    system_prompt: str | None


class SpeakCalibration(Contract):
    score: str
    threshold: float
    target_rate: float
    decision_points: int
    skipped_too_long: int
    auc: float | None
    calibrated_on: str


class PairsRef(Contract):
    path: str
    count: int


class AdapterManifest(Contract):
    """clonekit.json in an adapter directory: what it was trained on and how, and its metrics."""

    clonekit_version: str
    created: str
    method: str = "sft"
    base: BaseRef
    dataset: DatasetRef
    template: str
    end_of_turn: str
    config: TrainConfig
    metrics: dict[str, Any]
    parent: str | None = None
    pairs: PairsRef | None = None
    speak: SpeakCalibration | None = None


# ----------------------------------------------------------------------------------- the registry and the gate


class GateCheck(Contract):
    name: str
    ok: bool
    detail: str


class GateVerdict(Contract):
    """The gate's verdict, as `evolve gate` logs it (the `evaluated` record's data)."""

    passed: bool
    checks: list[GateCheck]
    figures: dict[str, Any] = {}
    probes: list[dict[str, Any]] = []
    against: str | None = None
    auto_approved: bool = False


class VersionBase(Contract):
    id: str
    sha256: str | None


class StoreCutoff(Contract):
    message: int
    feedback: int


class VersionData(Contract):
    """What a version was trained on: the dataset, and for an evolve candidate its material."""

    dataset_manifest_sha256: str | None = None
    dataset_dir: str | None = None
    target: str | None = None
    store_cutoff: StoreCutoff | None = None
    eval_dataset: str | None = None
    material_train_sha256: str | None = None
    counts: dict[str, int] | None = None
    new_share: float | None = None
    evolve_config: dict[str, Any] | None = None


class VersionInfo(Contract):
    """version.json of a registry version: immutable, every file hashed."""

    id: str
    parent: str | None
    created: str
    source: str
    content_sha256: str
    files: dict[str, str]
    core_sha256: str
    base: VersionBase
    template_sha256: str
    method: str | None = None
    config_sha256: str
    data: VersionData
    metrics: dict[str, Any]


class AuditRecord(Contract):
    """One line of the hash-chained audit log (clonekit/audit.py)."""

    seq: int
    time: str
    event: str
    actor: str
    reason: str
    version: str | None = None
    data: dict[str, Any] = {}
    prev: str
    hash: str


# ---------------------------------------------------------------------------------------- the comparison report


class AucRow(Contract):
    auc: float | None
    interval: list[float] | None = None


class SpeakSummary(Contract):
    """compare --speak: the held-out sessions replayed through the bot with `--speak auto`."""

    run: str
    threshold: float
    auc: float | None
    auc_interval: list[float] | None = None
    table: dict[str, AucRow]
    decision_points: int
    real_reply_rate: float | None
    bot_reply_rate: float | None
    bot_reply_rate_interval: list[float] | None = None
    rate_ratio: float | None
    mentions: int
    mentions_answered: float | None
    reasons: dict[str, int]


class MemoryRecall(Contract):
    """compare --facts: planted-fact questions answered with and without the dataset's memory."""

    facts: str
    questions: int
    recall_with: float | None
    recall_with_interval: list[float] | None = None
    recall_without: float | None
    recall_without_interval: list[float] | None = None
    ratio: float | None
    answer_in_memory_block: float | None
    samples: list[dict[str, str]]


class CompareReport(Contract):
    """report.json of `clonekit compare`. An endpoint's row, and the real replies' (`reference`), map a metric's
    name (style_target_prob, loop_rate, ...; compare/report.py's ROWS) to its value, with `intervals` beside."""

    target: str
    cases: int
    data: str
    settings: CompareSettings
    style_classifier: dict[str, Any]
    target_phrases: list[dict[str, Any]]
    reference: dict[str, Any]
    endpoints: dict[str, dict[str, Any]]
    timings_s: dict[str, float] = {}
    heldout_loss: dict[str, Any] | None = None
    speak: SpeakSummary | None = None
    memory: MemoryRecall | None = None


# ------------------------------------------------------------------------------------------------ an endpoint


class EndpointFile(Contract):
    """An OpenAI-compatible endpoint, as `clonekit hosted` writes it for a finished fine-tune: `clonekit compare -e
    NAME=FILE` and `clonekit chat|discord --endpoint FILE` take it as they take a local server's URL and model."""

    base_url: str
    model: str
    key_env: str | None = None  # the environment variable holding the key (never the key itself)
    job_id: str | None = None
    dataset_sha256: str | None = None
    created: str | None = None


# Fields added after files were first written, with the value an older file means by leaving them out. A
# field not listed here is required: reading an old file without it is an error that names it.
MIGRATIONS: dict[str, dict[str, Any]] = {"AdapterManifest": {"method": "sft"}}  # adapters before DPO were all SFT
