"""`clonekit hosted`: OpenAI's file rules with clear errors, the estimate, and a job's whole life (upload, create,
events, success, failure, cancel, detach and watching again) against a local stand-in of the API, driven by the real
`openai` client; the endpoint file a finished job writes works with `chat --endpoint` and `compare -e`."""

import json
import shutil

import pytest
import yaml
from typer.testing import CliRunner

from clonekit.cli import app
from clonekit.config import HostedConfig, HostedModel
from clonekit.contracts import EndpointFile
from clonekit.errors import ClonekitError
from clonekit.hosted import jobs
from clonekit.hosted.plan import plan
from clonekit.hosted.validate import check_file
from clonekit.registry import Registry
from tests.helpers import sample_dataset
from tests.hosted.standin import StandIn

SYSTEM = {"role": "system", "content": "You are Maya."}
USER = {"role": "user", "content": "hi"}
GOOD = {"messages": [SYSTEM, {"role": "user", "name": "Sam", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
LIMITS = HostedModel(max_example_tokens=60, training_price_per_1m=3.0)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return sample_dataset(tmp_path_factory.mktemp("hosted"), weeks=1)


@pytest.fixture(autouse=True)
def _offline_tiktoken(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("CLONEKIT_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)


def _file(tmp_path, rows, name="train.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"messages": [SYSTEM, {"role": "bot", "content": "x"}]}, "message 2 has role 'bot'"),
        ({"messages": [SYSTEM, {"role": "user", "content": "hi"}]}, "no assistant message"),
        (
            {
                "messages": [
                    SYSTEM,
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "x", "weight": 0},
                ]
            },
            "every assistant message has weight 0",
        ),
        (
            {"messages": [SYSTEM, {"role": "user", "content": "hi", "weight": 1}, GOOD["messages"][2]]},
            "only allowed on",
        ),
        ({"messages": [SYSTEM, {"role": "user", "name": "Sam Lee", "content": "hi"}, GOOD["messages"][2]]}, "name"),
        ({"messages": [SYSTEM, {"role": "assistant", "content": "word " * 80}]}, "over the model's limit of 60"),
        ({"messages": GOOD["messages"], "extra": 1}, "keys OpenAI does not accept: extra"),
    ],
)
def test_each_rule_is_a_clear_error_naming_file_and_line(tmp_path, bad, message):
    path = _file(tmp_path, [GOOD] * 11 + [bad])
    with pytest.raises(ClonekitError, match=message) as e:
        check_file(path, LIMITS, min_examples=10)
    assert f"{path}:12" in str(e.value)


def test_too_few_examples_and_broken_json(tmp_path):
    with pytest.raises(ClonekitError, match="9 examples: OpenAI fine-tuning needs at least 10"):
        check_file(_file(tmp_path, [GOOD] * 9), LIMITS, min_examples=10)
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps(GOOD) + "\n{not json\n")
    with pytest.raises(ClonekitError, match=r"broken.jsonl:2: not JSON"):
        check_file(path, LIMITS)


def test_the_built_dataset_passes_and_the_estimate_is_tokens_times_epochs_times_price(dataset):
    found = plan(dataset, HostedConfig())
    assert found.train.examples >= 10
    assert found.train.tokens > found.train.examples * 10
    assert (found.epochs, found.epochs_given) == (3, False)
    assert found.cost_usd == pytest.approx(found.train.tokens * 3 * 3.0 / 1e6)
    given = plan(dataset, HostedConfig(model="gpt-4o-2024-08-06", epochs=2))
    assert given.cost_usd == pytest.approx(given.train.tokens * 2 * 25.0 / 1e6)
    assert given.train.tokens == found.train.tokens  # the same encoding (o200k_base)
    with pytest.raises(ClonekitError, match="no token limit and price for model 'gpt-5-unknown'"):
        plan(dataset, HostedConfig(model="gpt-5-unknown"))


def _config(tmp_path, api: StandIn, **extra):
    path = tmp_path / "hosted.yaml"
    path.write_text(yaml.safe_dump({"base_url": api.base_url, "poll_seconds": 0.01, **extra}))
    return path


def _run(args, monkeypatch, input=None):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    return CliRunner().invoke(app, args, input=input)


def test_dry_run_and_a_no_at_the_prompt_send_nothing(dataset, tmp_path, monkeypatch):
    with StandIn() as api:
        dry = _run(["hosted", "finetune", str(dataset), "-c", str(_config(tmp_path, api)), "--dry-run"], monkeypatch)
        assert dry.exit_code == 0, dry.output
        assert "estimated cost" in dry.output
        nowhere = ["hosted", "finetune", str(dataset), "-c", str(_config(tmp_path, api)), "--yes", "-r", str(tmp_path)]
        refused = _run(nowhere, monkeypatch)
        assert refused.exit_code == 2
        assert "not a registry" in refused.output
        assert "dry run: nothing was sent" in dry.output
        no = _run(["hosted", "finetune", str(dataset), "-c", str(_config(tmp_path, api))], monkeypatch, input="n\n")
        assert no.exit_code == 1
        assert "nothing was sent" in no.output
        assert api.requests == []


def test_a_job_that_succeeds_writes_its_endpoint_and_a_registry_version(dataset, tmp_path, monkeypatch):
    from tests.registry.test_registry import fake_run

    reg = Registry(tmp_path / "reg")
    reg.init(fake_run(tmp_path / "run1"), actor="t")
    out = tmp_path / "hosted.json"
    with StandIn() as api:
        cfg = _config(tmp_path, api)
        args = ["hosted", "finetune", str(dataset), "-c", str(cfg), "--yes", "--epochs", "2", "--suffix", "maya"]
        result = _run([*args, "-o", str(out), "-r", str(reg.root)], monkeypatch)
        assert result.exit_code == 0, result.output
        assert [p for m, p in api.requests if m == "POST"][:3] == ["/v1/files", "/v1/files", "/v1/fine_tuning/jobs"]
        created = api.created[0]
        assert created["model"] == "gpt-4o-mini-2024-07-18"
        assert created["suffix"] == "maya"
        assert created["method"] == {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}}
        assert created["validation_file"]  # both files went up
        assert "Step 3/3" in result.output  # the job's events, as they came
        assert "succeeded" in result.output
        endpoint = EndpointFile.load(out)
        assert endpoint.model.startswith("ft:gpt-4o-mini-2024-07-18:standin:maya")
        assert (endpoint.base_url, endpoint.key_env, endpoint.job_id) == (api.base_url, "OPENAI_API_KEY", "ftjob-1")
        state = reg.state()
        (external,) = [v for v in state.versions.values() if v.external]
        assert external.external["job_id"] == "ftjob-1"
        assert external.external["model"] == endpoint.model
        record = [r for r in reg.audit.entries() if r.version == external.id][0]
        assert record.data["dataset_sha256"] == endpoint.dataset_sha256
        assert len(endpoint.dataset_sha256 or "") == 64
        assert "hosted model" in (reg.promotion_problem(external.id) or "")
        assert not reg.verify()  # an external version has no files to check

        for flag in ("--endpoint", "--base-url"):  # the endpoint file where a local server's URL goes
            chat = _run(["chat", flag, str(out), "--script", str(_script(tmp_path)), "--quiet", "0"], monkeypatch)
            assert chat.exit_code == 0, chat.output
            assert "lol sure" in chat.output


def _script(tmp_path):
    path = tmp_path / "script.txt"
    path.write_text("Sam: maya u in?\n\n")
    return path


def test_a_failed_job_exits_1_with_its_error_and_writes_no_endpoint(dataset, tmp_path, monkeypatch):
    with StandIn(scenario="fail") as api:
        out = tmp_path / "hosted.json"
        args = ["hosted", "finetune", str(dataset), "-c", str(_config(tmp_path, api)), "--yes", "-o", str(out)]
        result = _run(args, monkeypatch)
        assert result.exit_code == 1
        assert "failed" in result.output
        assert "The job failed (stand-in)" in result.output
        assert not out.exists()


def test_cancel_a_running_job(dataset, tmp_path, monkeypatch):
    with StandIn(scenario="slow") as api:
        cfg = HostedConfig(base_url=api.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        job = jobs.start(jobs.client(cfg), plan(dataset, cfg), cfg, lambda s: None)
        result = _run(["hosted", "cancel", job.id, "-c", str(_config(tmp_path, api))], monkeypatch)
        assert result.exit_code == 0, result.output
        assert "cancelled" in result.output
        assert api.jobs[job.id]["status"] == "cancelled"
        again = _run(["hosted", "cancel", job.id, "-c", str(_config(tmp_path, api))], monkeypatch)
        assert again.exit_code == 2
        assert "has already ended" in again.output


def test_ctrl_c_detaches_and_status_watch_resumes(dataset, tmp_path, monkeypatch):
    def interrupted(seconds):
        raise KeyboardInterrupt

    with StandIn() as api:
        cfg = _config(tmp_path, api)
        real_watch = jobs.watch
        monkeypatch.setattr(jobs, "watch", lambda *a, **k: real_watch(*a, sleep=interrupted))
        result = _run(["hosted", "finetune", str(dataset), "-c", str(cfg), "--yes"], monkeypatch)
        assert result.exit_code == 130
        assert "detached: job ftjob-1 goes on" in result.output
        assert api.jobs["ftjob-1"]["status"] not in ("cancelled", "succeeded")  # not cancelled: only watching stopped
        monkeypatch.setattr(jobs, "watch", real_watch)
        shown = _run(["hosted", "status", "ftjob-1", "-c", str(cfg)], monkeypatch)
        assert shown.exit_code == 0, shown.output
        assert "job ftjob-1" in shown.output
        out = tmp_path / "later.json"
        watched = _run(["hosted", "status", "ftjob-1", "-c", str(cfg), "--watch", "-o", str(out)], monkeypatch)
        assert watched.exit_code == 0, watched.output
        assert "succeeded" in watched.output
        assert EndpointFile.load(out).job_id == "ftjob-1"


def test_no_key_and_a_wrong_key_are_clear_errors(dataset, tmp_path, monkeypatch):
    with StandIn() as api:
        cfg = _config(tmp_path, api)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        none = CliRunner().invoke(app, ["hosted", "finetune", str(dataset), "-c", str(cfg), "--yes"])
        assert none.exit_code == 2
        assert "set $OPENAI_API_KEY" in none.output
        monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
        wrong = CliRunner().invoke(app, ["hosted", "finetune", str(dataset), "-c", str(cfg), "--yes"])
        assert wrong.exit_code == 2
        assert "the API refused (401): Incorrect API key" in wrong.output


@pytest.mark.slow
def test_the_endpoint_file_works_with_compare(dataset, tmp_path, monkeypatch):
    with StandIn() as api:
        cfg = _config(tmp_path, api)
        out = tmp_path / "hosted.json"
        assert (
            _run(["hosted", "finetune", str(dataset), "-c", str(cfg), "--yes", "-o", str(out)], monkeypatch).exit_code
            == 0
        )
        report = tmp_path / "report"
        args = ["compare", "--data", str(dataset), "-e", f"hosted={out}", "-o", str(report), "--limit", "2"]
        args += ["--selfplay-chats", "1", "--selfplay-turns", "2", "--guarded", "none"]
        result = _run(args, monkeypatch)
        assert result.exit_code == 0, result.output
        saved = json.loads((report / "report.json").read_text())
        assert saved["endpoints"]["hosted"]["model"] == EndpointFile.load(out).model
        shutil.rmtree(report)
