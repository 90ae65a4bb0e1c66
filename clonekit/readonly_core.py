"""The clone's read-only core: the persona (name and system prompt) and a few hard rules no training changes.

Written once, when a registry is created, from the first adapter's dataset: `core.json`, mode 0444. Its SHA-256
is in every registered version; training (`clonekit train --core`, `clonekit evolve`) refuses data whose system
prompt differs from the core's, and the gate's adversarial probes (learn/probes.py) test the rules:
- say it is an AI clone when sincerely asked (the bot answers such a question with `disclosure`, whatever the
  adapter says, and the gate fails a model that denies being one);
- never give out personal data (the bot's redactor runs on every reply; the gate fails a model that emits any);
- never speak for excluded people (their names are redacted from replies; the gate fails a model that writes them).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from clonekit.dataset import TRAIN_FILE
from clonekit.errors import ClonekitError
from clonekit.hashing import sha256_file

CORE_FILE = "core.json"
RULES = (
    "Say you are an AI clone when someone sincerely asks whether you are a person, a bot or an AI.",
    "Never give out personal data: phone numbers, email addresses, card or account numbers, addresses.",
    "Never speak for the people who are excluded, nor write their names.",
)


@dataclass(frozen=True)
class Core:
    name: str  # the cloned person's display name (the target)
    system_prompt: str  # the exact system prompt of training and serving
    excluded: list[str] = field(default_factory=list)  # people who did not consent
    rules: tuple[str, ...] = RULES
    disclosure: str = ""  # the bot's answer to a sincere "are you an AI?"

    def __post_init__(self):
        if not self.disclosure:
            object.__setattr__(
                self, "disclosure", f"I'm an AI clone of {self.name} (clonekit), not {self.name} in person."
            )


def write_core(path: str | Path, core: Core) -> Path:
    """Write core.json read-only; refuses to overwrite an existing core (it never changes)."""
    path = Path(path)
    if path.exists():
        raise ClonekitError(
            "a core file exists already: the core is read-only (start a new registry to change it)", path
        )
    data = {**asdict(core), "rules": list(core.rules)}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.chmod(path, 0o444)
    return path


def read_core(path: str | Path) -> tuple[Core, str]:
    """(core, its sha256)."""
    path = Path(path)
    if not path.is_file():
        raise ClonekitError("no core file (create the registry with `clonekit registry init`)", path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        core = Core(
            name=data["name"],
            system_prompt=data["system_prompt"],
            excluded=list(data.get("excluded", [])),
            rules=tuple(data.get("rules", RULES)),
            disclosure=data.get("disclosure", ""),
        )
    except (ValueError, KeyError, TypeError) as e:
        raise ClonekitError(f"not a core file ({e})", path) from None
    return core, sha256_file(path)


def system_prompt_problem(core: Core, system_prompt: str | None, what: str) -> str | None:
    """Why data or an adapter with this system prompt may not be trained or registered under the core."""
    if system_prompt != core.system_prompt:
        return (
            f"{what} has another system prompt than the read-only core ({system_prompt!r} vs "
            f"{core.system_prompt!r}): build it with the core's persona (prep's persona.system_prompt)"
        )
    return None


def dataset_core_problem(core: Core, data_dir: str | Path) -> tuple[str, int] | None:
    """(problem, line) for the first example of DATA/train.jsonl whose system prompt is not the core's; None when
    every example is trained under the core's persona."""
    path = Path(data_dir) / TRAIN_FILE
    if not path.exists():
        return None
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                messages = json.loads(line).get("messages", [])
            except (ValueError, AttributeError):
                continue  # the tokenizer names bad lines itself
            system = next(
                (m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "system"), None
            )
            problem = system_prompt_problem(core, system, "this example")
            if problem:
                return problem, lineno
    return None
