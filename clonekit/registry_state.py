"""A registry's state, computed by replaying its audit log: every version's status (registered, gate-passed,
approved, live, retired, rejected, gate-failed), the live version and its history, the candidate, the A/B version.
Nothing of it is stored: the log is the truth, so the hash chain covers it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from clonekit.contracts import AdapterManifest, AuditRecord, GateVerdict, VersionInfo


@dataclass
class VersionState:
    id: str
    parent: str | None
    status: str = "registered"
    gate: GateVerdict | None = None  # the last evaluation's verdict and figures
    gate_failed: bool = False  # any evaluation failed: never promotable
    approved_by: str | None = None
    rejected: bool = False
    was_live: bool = False
    feedback: Counter = field(default_factory=Counter)  # kind -> count ("up", "down", "correction")
    ab_share: float | None = None
    external: dict | None = None  # a hosted model (`clonekit hosted`): its model, base URL and job; no files here

    @property
    def gate_passed(self) -> bool:
        return self.gate is not None and self.gate.passed


@dataclass
class LoadedVersion:
    """A registry version whose files were checked: version.json, the adapter manifest, the directory."""

    info: VersionInfo
    manifest: AdapterManifest
    dir: Path


@dataclass
class RegistryState:
    versions: dict[str, VersionState]
    live: str | None
    history: list[str]  # live versions, oldest first; rollback goes back one
    candidate: str | None
    ab: str | None  # the version served beside live for A/B, if any


def replay(records: list[AuditRecord], log_path: Path) -> RegistryState:
    """Versions, statuses and aliases from the audit records, oldest first."""
    versions: dict[str, VersionState] = {}
    history: list[str] = []
    ab: str | None = None
    for r in records:
        ev, vid, data = r.event, r.version, r.data
        if ev == "rolled_back":
            if history:
                history.pop()
            continue
        if ev == "ab_stopped":
            ab = None
            continue
        if vid is None:
            continue
        if ev == "registered":
            versions[vid] = VersionState(vid, data.get("parent"), external=data.get("external"))
            continue
        v = versions.get(vid)
        if v is None:
            continue
        if ev == "evaluated":
            v.gate = GateVerdict.check(data, log_path, r.seq + 1)
            v.gate_failed = v.gate_failed or not v.gate.passed
        elif ev == "approved":
            v.approved_by, v.rejected = r.actor, False
        elif ev == "rejected":
            v.rejected, v.approved_by = True, None
        elif ev == "promoted":
            history.append(vid)
            v.was_live = True
            if ab == vid:
                ab = None
        elif ev == "ab_started":
            ab = vid
            v.ab_share = data.get("share")
        elif ev == "feedback":
            v.feedback[data.get("kind", "?")] += 1
    live = history[-1] if history else None
    for v in versions.values():
        v.status = _status(v, live)
    live_index = next((i for i, r in enumerate(records) if r.event == "promoted" and r.version == live), -1)
    newer = [r.version for r in records[live_index + 1 :] if r.event == "registered" and r.version]
    candidate = next((vid for vid in reversed(newer) if versions[vid].status not in ("rejected", "live")), None)
    return RegistryState(versions, live, history, candidate, ab)


def _status(v: VersionState, live: str | None) -> str:
    if v.id == live:
        return "live"
    for status, holds in (
        ("rejected", v.rejected),
        ("gate-failed", v.gate_failed),
        ("retired", v.was_live),
        ("approved", bool(v.approved_by)),
        ("gate-passed", v.gate_passed),
    ):
        if holds:
            return status
    return "registered"
