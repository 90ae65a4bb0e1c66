"""The adapter registry: immutable, content-hashed adapter versions, their audit log and the read-only core.

    registry/
      registry.json   the served model name (the one the bot asks for), written once
      core.json       the read-only core (clonekit/readonly_core.py), mode 0444
      audit.jsonl     every event, hash-chained (clonekit/audit.py); audit.head, audit.lock beside it
      versions/V/     one adapter directory per version, files 0444, and version.json: parent, the hashes of
                      every file, of the data and the config, the core's hash, training metrics

A version's id is `v<N>-<first 8 hex of its content hash>`. Nothing in a version changes after it is written;
what happens to it (evaluated, approved, rejected, promoted, rolled back, feedback) is an event in the audit log,
and a version's status, the `live` and `candidate` aliases and the rollback history are computed by replaying the
log. So the chain covers them: an edited log fails `clonekit registry verify`, and no command acts on a log that
does not verify.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from clonekit.audit import AuditLog, AuditProblem
from clonekit.contracts import AdapterManifest, VersionBase, VersionData, VersionInfo
from clonekit.dataset import has_manifest, read_dataset_manifest
from clonekit.errors import ClonekitError
from clonekit.hashing import sha256_file, sha256_text
from clonekit.manifest import MANIFEST, TEMPLATE_FILE, read_manifest, safetensors_problem
from clonekit.readonly_core import CORE_FILE, Core, read_core, system_prompt_problem, write_core
from clonekit.registry_state import LoadedVersion, RegistryState, replay

VERSION_FILE = "version.json"
REGISTRY_FILE = "registry.json"
AUDIT_FILE = "audit.jsonl"
REQUIRED = ("adapter_config.json", "adapter_model.safetensors", TEMPLATE_FILE, MANIFEST)


def served_version_name(served_name: str, version: str) -> str:
    """The name a version is loaded under in vLLM; the served name (`clone`) is an alias to one of these."""
    return f"{served_name}@{version}"


class Registry:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.audit = AuditLog(self.root / AUDIT_FILE)

    # ----------------------------------------------------------------------------------------------- layout

    @property
    def core_path(self) -> Path:
        return self.root / CORE_FILE

    def version_dir(self, vid: str) -> Path:
        return self.root / "versions" / vid

    def exists(self) -> bool:
        return (self.root / REGISTRY_FILE).exists()

    def require(self) -> Registry:
        if not self.exists():
            raise ClonekitError(
                "not a registry (no registry.json): create one with `clonekit registry init RUN`", self.root
            )
        return self

    @property
    def served_name(self) -> str:
        return json.loads((self.root / REGISTRY_FILE).read_text(encoding="utf-8"))["served_name"]

    def core(self) -> tuple[Core, str]:
        return read_core(self.core_path)

    # ------------------------------------------------------------------------------------------- creating

    def init(
        self,
        run: str | Path,
        served_name: str = "clone",
        excluded: list[str] | None = None,
        actor: str | None = None,
        reason: str = "first version",
    ) -> str:
        """Create the registry from a first adapter run: the core from its dataset's persona, the run as v1,
        approved by whoever creates the registry (it is the version being served already)."""
        if self.exists():
            raise ClonekitError("a registry exists here already", self.root)
        run = Path(run)
        manifest = _run_manifest(run)
        dataset = manifest.dataset
        if not dataset.target or dataset.system_prompt is None:
            raise ClonekitError(
                "the adapter's clonekit.json names no target or system prompt (train it with a current clonekit)", run
            )
        if excluded is None:
            excluded = _dataset_excluded(dataset.dir)
        self.root.mkdir(parents=True, exist_ok=True)
        core_path = write_core(self.core_path, Core(dataset.target, dataset.system_prompt, excluded))
        info = self.root / REGISTRY_FILE
        info.write_text(json.dumps({"served_name": served_name, "created": _now()}, indent=2) + "\n", encoding="utf-8")
        os.chmod(info, 0o444)
        self.audit.append(
            "created",
            reason="registry created",
            actor=actor,
            core_sha256=sha256_file(core_path),
            served_name=served_name,
            target=dataset.target,
        )
        vid = self.register(run, parent=None, actor=actor, reason=reason)
        self.audit.append(
            "approved",
            reason="the first version: the adapter being served when the registry was made",
            actor=actor,
            version=vid,
        )
        self.audit.append("promoted", reason="the first version is live from the start", actor=actor, version=vid)
        return vid

    def register(
        self,
        run: str | Path,
        parent: str | None,
        actor: str | None = None,
        reason: str = "registered",
        material: dict | None = None,
    ) -> str:
        """Copy an adapter run into a new immutable version; returns its id. A version with a parent must share
        its base model and chat template, and every version the core's system prompt."""
        self.require()
        state = self.state()
        run = Path(run)
        manifest = _run_manifest(run)
        core, core_sha = self.core()
        problem = system_prompt_problem(core, manifest.dataset.system_prompt, "the adapter's data")
        if problem:
            raise ClonekitError(problem, run)
        if parent is not None:
            self._check_parent(run, manifest, parent, state)
        files = {p.name: sha256_file(p) for p in sorted(run.iterdir()) if p.is_file() and p.name != VERSION_FILE}
        content = sha256_text(*[f"{name}:{sha}" for name, sha in files.items()])
        vid = f"v{len(state.versions) + 1}-{content[:8]}"
        dest = self.version_dir(vid)
        if dest.exists():
            raise ClonekitError(
                f"version directory {vid} exists but the log does not name it (left by a crash: move it away)", dest
            )
        tmp = dest.with_name(f".{vid}.partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name in files:
            shutil.copyfile(run / name, tmp / name)
        record = _version_record(vid, parent, run, content, files, core_sha, manifest, material)
        record.write(tmp / VERSION_FILE)
        for p in tmp.iterdir():
            os.chmod(p, 0o444)
        os.replace(tmp, dest)
        self.audit.append(
            "registered",
            reason=reason,
            actor=actor,
            version=vid,
            parent=parent,
            content_sha256=content,
            version_json_sha256=sha256_file(dest / VERSION_FILE),
            core_sha256=core_sha,
        )
        return vid

    def register_external(
        self,
        model: str,
        base_url: str,
        job_id: str,
        dataset_sha256: str,
        actor: str | None = None,
        reason: str = "hosted fine-tune",
    ) -> str:
        """A model someone else serves (a hosted fine-tune), as a version in the log with no files: clonekit compares
        it and chats with it through its endpoint, and never serves or promotes it. Returns its id."""
        self.require()
        state = self.state()
        vid = f"v{len(state.versions) + 1}-{sha256_text('external', base_url, model)[:8]}"
        external = {"model": model, "base_url": base_url, "job_id": job_id}
        self.audit.append(
            "registered",
            reason=reason,
            actor=actor,
            version=vid,
            parent=None,
            external=external,
            dataset_sha256=dataset_sha256,
        )
        return vid

    def _check_parent(self, run: Path, manifest: AdapterManifest, parent: str, state: RegistryState) -> None:
        if parent not in state.versions:
            raise ClonekitError(f"no version {parent} in the registry", self.root)
        _same_base_and_template(run, manifest, self.version_dir(parent), self.load_version(parent).manifest)

    # -------------------------------------------------------------------------------------------- reading

    def load_version(self, vid: str) -> LoadedVersion:
        """version.json plus the adapter manifest, after checking every file's hash: a missing or corrupt version
        is an error, never served."""
        d = self.version_dir(vid)
        if not (d / VERSION_FILE).is_file():
            raise ClonekitError(f"version {vid} is missing from the registry", d)
        problems = self.version_problems(vid)
        if problems:
            raise ClonekitError(f"version {vid} is corrupt: {problems[0]}", d)
        return LoadedVersion(VersionInfo.load(d / VERSION_FILE), read_manifest(d), d)

    def version_problems(self, vid: str, registered_sha: str | None = None) -> list[str]:
        d = self.version_dir(vid)
        if not (d / VERSION_FILE).is_file():
            return [f"version {vid}: its directory or version.json is missing"]
        if registered_sha and sha256_file(d / VERSION_FILE) != registered_sha:
            return [f"version {vid}: version.json differs from the one registered"]
        try:
            files = VersionInfo.load(d / VERSION_FILE).files
        except ClonekitError as e:
            return [f"version {vid}: version.json is not readable ({e})"]
        out = []
        for name, sha in files.items():
            if not (d / name).is_file():
                out.append(f"version {vid}: {name} is missing")
            elif sha256_file(d / name) != sha:
                out.append(f"version {vid}: {name} was changed (hash differs)")
        problem = (
            safetensors_problem(d / "adapter_model.safetensors") if (d / "adapter_model.safetensors").exists() else None
        )
        if problem:
            out.append(f"version {vid}: {problem}")
        return out

    def state(self) -> RegistryState:
        """Replay the audit log (which must verify) into versions, statuses and aliases."""
        return replay(self.audit.entries(check=True), self.audit.path)

    def resolve(self, ref: str, state: RegistryState | None = None) -> str:
        """A version id, a unique prefix of one (`v3`), or an alias: live, candidate, previous."""
        state = state or self.state()
        aliases = {
            "live": state.live,
            "candidate": state.candidate,
            "previous": state.history[-2] if len(state.history) > 1 else None,
        }
        if ref in aliases:
            found = aliases[ref]
            if found is None:
                raise ClonekitError(f"the registry has no {ref} version", self.root)
            return found
        if ref in state.versions:
            return ref
        matches = [v for v in state.versions if v.startswith(ref + "-") or v.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        raise ClonekitError(
            f"no version {ref!r} in the registry" + (f" (ambiguous: {', '.join(matches)})" if matches else ""),
            self.root,
        )

    # ------------------------------------------------------------------------------------------ decisions

    def promotion_problem(self, vid: str, state: RegistryState | None = None) -> str | None:
        """Why a version may not go live; None when it may."""
        state = state or self.state()
        v = state.versions[vid]
        if vid == state.live:
            return f"{vid} is live already"
        if v.external is not None:
            return f"{vid} is a hosted model ({v.external['model']}): clonekit compares it, it does not serve it"
        if v.gate_failed:
            return f"{vid} failed the gate: a version that failed the gate is never promoted"
        if v.rejected:
            return f"{vid} was rejected"
        if v.parent is not None and not v.gate_passed:
            return f"{vid} has not passed the gate yet (`clonekit evolve gate {vid}`)"
        if not v.approved_by:
            return f"{vid} is not approved: a person approves it first (`clonekit registry approve {vid}`)"
        core_sha = self.core()[1]
        info = self.load_version(vid).info
        if info.core_sha256 != core_sha:
            return f"{vid} was registered under another core (core.json changed?)"
        if state.live is not None:
            live = self.load_version(state.live).info
            if (info.base, info.template_sha256) != (live.base, live.template_sha256):
                return f"{vid} has another base model or chat template than the live version {state.live}"
        return None

    def verify(self) -> list[AuditProblem]:
        """The chain, then every registered version's files and the core's hash against the log."""
        problems = self.audit.verify()
        if problems:
            return problems
        records = self.audit.entries(check=False)
        created = next((r for r in records if r.event == "created"), None)
        if created is None:
            return [AuditProblem(None, "the log has no `created` record")]
        if not self.core_path.exists() or sha256_file(self.core_path) != created.data.get("core_sha256"):
            problems.append(
                AuditProblem(None, "core.json is missing or differs from the core the registry was created with")
            )
        for r in records:
            if r.event == "registered" and r.version and "external" not in r.data:
                for p in self.version_problems(r.version, r.data.get("version_json_sha256")):
                    problems.append(AuditProblem(None, p))
        return problems


def approve_version(root: str | Path, ref: str, actor: str | None, reason: str) -> str:
    """A person approves a version (it must have passed the gate, unless it is a first version); returns its id."""
    reg = Registry(root).require()
    state = reg.state()
    vid = reg.resolve(ref, state)
    v = state.versions[vid]
    if v.gate_failed:
        raise ClonekitError(f"{vid} failed the gate: it cannot be approved")
    if v.parent is not None and not v.gate_passed:
        raise ClonekitError(f"{vid} has not been through the gate yet (`clonekit evolve gate {vid}`)")
    reg.audit.append("approved", reason=reason, actor=actor, version=vid)
    return vid


def reject_version(root: str | Path, ref: str, actor: str | None, reason: str) -> str:
    """A person rejects a version: it will not be promoted; returns its id."""
    reg = Registry(root).require()
    vid = reg.resolve(ref)
    reg.audit.append("rejected", reason=reason, actor=actor, version=vid)
    return vid


def _version_record(
    vid: str,
    parent: str | None,
    run: Path,
    content: str,
    files: dict[str, str],
    core_sha: str,
    manifest: AdapterManifest,
    material: dict | None,
) -> VersionInfo:
    """version.json: the hashes of every file, of the data and of the config, the core's hash, the metrics."""
    ds = manifest.dataset
    return VersionInfo(
        id=vid,
        parent=parent,
        created=_now(),
        source=str(run.resolve()),
        content_sha256=content,
        files=files,
        core_sha256=core_sha,
        base=VersionBase(id=manifest.base.id, sha256=manifest.base.sha256),
        template_sha256=files[TEMPLATE_FILE],
        method=manifest.method,
        config_sha256=sha256_text(json.dumps(manifest.config.model_dump(mode="json"), sort_keys=True)),
        data=VersionData(
            dataset_manifest_sha256=ds.manifest_sha256, dataset_dir=ds.dir, target=ds.target, **(material or {})
        ),
        metrics=manifest.metrics,
    )


def _run_manifest(run: Path) -> AdapterManifest:
    if not run.is_dir():
        raise ClonekitError("not an adapter directory (not found, or a file)", run)
    missing = [f for f in REQUIRED if not (run / f).exists()]
    if missing:
        raise ClonekitError(f"not a complete adapter directory: {', '.join(missing)} missing", run)
    problem = safetensors_problem(run / "adapter_model.safetensors")
    if problem:
        raise ClonekitError(problem, run)
    return read_manifest(run)


def _same_base_and_template(run: Path, manifest: AdapterManifest, other_dir: Path, other: AdapterManifest) -> None:
    if manifest.base.sha256 != other.base.sha256:
        raise ClonekitError(
            f"the candidate was trained on another base model ({manifest.base.id}) than its parent ({other.base.id})",
            run,
        )
    if sha256_file(run / TEMPLATE_FILE) != sha256_file(other_dir / TEMPLATE_FILE):
        raise ClonekitError("the candidate was trained with another chat template than its parent", run)


def _dataset_excluded(dataset_dir: str | None) -> list[str]:
    """The people excluded when the first dataset was built (from its manifest's prep config)."""
    if dataset_dir is None or not has_manifest(dataset_dir):
        return []
    data = read_dataset_manifest(dataset_dir)
    return list(data.config.exclude)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
