"""Every artifact one stage writes and another reads goes through its model in clonekit/contracts.py: written,
read back equal, and a file with a missing or mistyped field is one clear error that names the file and the field."""

import json

import pytest

from clonekit.config import PrepConfig, TrainConfig
from clonekit.contracts import (
    AdapterManifest,
    AuditRecord,
    DatasetManifest,
    GateVerdict,
    MaterialManifest,
    SessionRow,
    VersionInfo,
)
from clonekit.dataset import read_sessions
from clonekit.errors import ClonekitError
from clonekit.manifest import read_manifest, write_manifest
from clonekit.registry import Registry
from tests.helpers import adapter_manifest_text, build_dataset_json, sample_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return sample_dataset(tmp_path_factory.mktemp("contracts"))


def _drop(data: dict, dotted: str) -> dict:
    data = json.loads(json.dumps(data))
    *path, last = dotted.split(".")
    node = data
    for key in path:
        node = node[key]
    del node[last]
    return data


def _set(data: dict, dotted: str, value) -> dict:
    data = json.loads(json.dumps(data))
    *path, last = dotted.split(".")
    node = data
    for key in path:
        node = node[key]
    node[last] = value
    return data


def _rejects(model, data: dict, tmp_path, field: str) -> None:
    path = tmp_path / "artifact.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ClonekitError) as e:
        model.load(path)
    assert str(path) in str(e.value)
    assert f"field {field}:" in str(e.value)


def test_the_dataset_manifest_round_trips_and_names_a_wrong_field(dataset, tmp_path):
    written = json.loads((dataset / "manifest.json").read_text())
    manifest = DatasetManifest.load(dataset / "manifest.json")
    assert manifest.to_json() == written  # the model holds every field the build writes, in its order
    assert isinstance(manifest.config, PrepConfig)
    assert manifest.sessions.train > 0
    _rejects(DatasetManifest, _drop(written, "sessions.train"), tmp_path, "sessions.train")
    _rejects(DatasetManifest, _set(written, "examples.valid", "many"), tmp_path, "examples.valid")
    _rejects(DatasetManifest, _drop(written, "system_prompt"), tmp_path, "system_prompt")


def test_session_rows_are_read_through_their_model(dataset, tmp_path):
    rows = list(read_sessions(dataset))
    assert rows
    assert all(isinstance(r, SessionRow) for r in rows)
    assert {r.split for r in rows} <= {"train", "valid", "none"}
    assert any(t.target for r in rows for t in r.turns)
    first = json.loads((dataset / "sessions.jsonl").read_text().splitlines()[0])
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "sessions.jsonl").write_text(json.dumps(first) + "\n" + json.dumps(_drop(first, "split")) + "\n")
    with pytest.raises(ClonekitError, match=r"sessions.jsonl:2: field split: Field required"):
        list(read_sessions(bad))


def test_the_adapter_manifest_holds_its_train_config(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    manifest = AdapterManifest.model_validate_json(adapter_manifest_text("tiny", str(run), "ab" * 32, "Maya", "Hi."))
    write_manifest(run, manifest)
    back = read_manifest(run)
    assert back == manifest
    assert isinstance(back.config, TrainConfig)
    assert back.config.row_tokens >= back.config.max_seq_len  # what evaluate packs with, not a hard-coded number
    written = json.loads((run / "clonekit.json").read_text())
    _rejects(AdapterManifest, _drop(written, "base.id"), tmp_path, "base.id")
    _rejects(AdapterManifest, _set(written, "config.max_seq_len", "long"), tmp_path, "config.max_seq_len")
    # a documented migration: adapters from before DPO have no `method` and were SFT
    assert AdapterManifest.check(_drop(written, "method"), "old").method == "sft"


def test_registry_version_audit_records_and_the_gate_verdict(tmp_path):
    from tests.registry.test_registry import fake_run

    reg = Registry(tmp_path / "reg")
    vid = reg.init(fake_run(tmp_path / "run1"), actor="t")
    info = reg.load_version(vid).info
    assert isinstance(info, VersionInfo)
    assert info.id == vid
    assert info.data.target == "Maya"
    version_json = json.loads((reg.version_dir(vid) / "version.json").read_text())
    _rejects(VersionInfo, _drop(version_json, "content_sha256"), tmp_path, "content_sha256")
    records = reg.audit.entries()
    assert [r.event for r in records] == ["created", "registered", "approved", "promoted"]
    assert all(isinstance(r, AuditRecord) for r in records)
    _rejects(AuditRecord, _set(records[0].to_json(), "seq", "first"), tmp_path, "seq")
    verdict = GateVerdict.check({"passed": True, "checks": [{"name": "x", "ok": True, "detail": "d"}]}, "log")
    assert verdict.passed
    assert verdict.checks[0].ok
    with pytest.raises(ClonekitError, match="field checks.0.ok"):
        GateVerdict.check({"passed": True, "checks": [{"name": "x", "ok": "maybe", "detail": "d"}]}, "log")


def test_material_manifest_is_its_own_model(tmp_path):
    data = {
        "clonekit_version": "0.1.0",
        "kind": "evolve material",
        "target": "Maya",
        "system_prompt": "Hi.",
        "counts": {"replay": 1},
        "new_share": 0.5,
        "config": PrepConfig(target="Maya").model_dump(),
        "original": "/x",
        "inputs": {"messages_sha256": None},
        "files": ["train.jsonl"],
        "train_sha256": "0" * 64,
    }
    assert MaterialManifest.check(data, "m").counts == {"replay": 1}
    with pytest.raises(ClonekitError, match="field train_sha256: Field required"):
        MaterialManifest.check(_drop(data, "train_sha256"), "m")


def test_a_build_returns_what_it_wrote(tmp_path, dataset):
    again = build_dataset_json(dataset.parent / "messages.jsonl", tmp_path / "ds", PrepConfig(target="Deniz"))
    written = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert again == written


def test_the_comparison_report_round_trips(tmp_path):
    from clonekit.config import CompareSettings
    from clonekit.contracts import CompareReport

    report = CompareReport(
        target="Maya",
        cases=3,
        data="ds",
        settings=CompareSettings(limit=3),
        style_classifier={"speakers": ["Maya", "Sam"]},
        target_phrases=[{"phrase": "lol", "real_rate": 0.08}],
        reference={"style_target_prob": 0.9},
        endpoints={"clone": {"style_target_prob": 0.8, "loop_rate": 0.0}},
    )
    path = report.write(tmp_path / "report.json")
    back = CompareReport.load(path)
    assert back == report
    assert back.settings.limit == 3
    written = json.loads(path.read_text())
    _rejects(CompareReport, _drop(written, "endpoints"), tmp_path, "endpoints")
    _rejects(CompareReport, _set(written, "settings.max_tokens", "lots"), tmp_path, "settings.max_tokens")


def test_a_manifest_that_is_not_json_is_one_clear_error(tmp_path):
    from clonekit.dataset import read_dataset_manifest

    (tmp_path / "manifest.json").write_text('{"target": "Maya",\n oops}')
    with pytest.raises(ClonekitError, match=r"manifest.json:2: column 2: invalid JSON"):
        read_dataset_manifest(tmp_path)
