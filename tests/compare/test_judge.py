"""`clonekit judge` in a real headless Chromium (Debian's `chromium`, driven by Playwright for Python): a judge casts
20 votes and reads the rate and its interval; a second browser on a non-loopback address without the token gets
403; a <script> in chat text is shown as text. Screenshots go to test-artifacts/judge/."""

import json
import shutil
import socket
import threading
from pathlib import Path

import pytest

from clonekit.compare.judge import JudgeServer, results, wilson

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "judge"
ATTACK = "<script>window.pwned = 1</script><b>bold?</b>"


def _report(tmp_path: Path, cases: int = 12) -> Path:
    out = tmp_path / "report"
    out.mkdir()
    with open(out / "replies.jsonl", "w", encoding="utf-8") as f:
        for i in range(cases):
            context = [{"speaker": "Sam", "text": ATTACK if i == 0 else f"anyone up for food {i}?"}]
            row = {
                "case": f"1:{i}",
                "context": context,
                "real": f"omg yes {i} lol",
                "replies": {"clone": f"yesss {i}", "base": f"Sure! I would love to join you for food {i}."},
            }
            f.write(json.dumps(row) + "\n")
    return out


def _serve(server: JudgeServer) -> threading.Thread:
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    return t


def _non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))  # no packet is sent: this only picks the outgoing interface
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_wilson_and_results_count_cant_tell_as_half():
    votes = [
        ("ann", "a|clone", "clone", "real", ""),
        ("ann", "b|clone", "clone", "cant_tell", ""),
        ("bob", "a|clone", "clone", "model", ""),
        ("bob", "b|clone", "clone", "cant_tell", ""),
    ]
    r = results(votes)
    assert r["endpoints"]["clone"]["found_real_rate"] == pytest.approx(0.5)
    assert r["judges"]["ann"]["agreement"] == pytest.approx(0.5)  # disagree on a, agree on b
    low, high = wilson(10, 20)
    assert low < 0.5 < high
    assert wilson(0, 0) is None


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


def test_twenty_votes_in_a_real_browser(tmp_path, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server = JudgeServer(_report(tmp_path), "127.0.0.1", 0)
    _serve(server)
    try:
        page = browser.new_page()
        page.goto(server.link())
        page.fill("input[name=judge]", "Ann")
        page.click("text=Start")
        seen_attack = False
        for i in range(20):
            assert page.locator(".reply").count() == 2
            if ATTACK in page.inner_text("body"):
                seen_attack = True
                page.screenshot(path=str(ARTIFACTS / "script-as-text.png"), full_page=True)
            if i == 0:
                page.screenshot(path=str(ARTIFACTS / "case.png"), full_page=True)
            page.click(["text=A is real", "text=B is real", "text=Can't tell"][i % 3])
        assert seen_attack, "the case with <script> in its chat text was never shown"
        assert page.evaluate("window.pwned") is None  # shown as text, never run
        assert page.locator("b", has_text="bold?").count() == 0
        page.goto(f"http://127.0.0.1:{server.port}/results")
        page.screenshot(path=str(ARTIFACTS / "results.png"), full_page=True)
        rows = page.locator("tr.endpoint")
        assert rows.count() == 2
        total = 0
        for k in range(rows.count()):
            row = rows.nth(k)
            votes = int(row.locator("td").nth(1).inner_text())
            rate = float(row.locator(".rate").inner_text().rstrip("%")) / 100
            low, high = (
                float(x.strip(" %")) / 100 for x in row.locator(".interval").inner_text().strip("[]").split(",")
            )
            assert 0 <= low <= rate <= high <= 1
            total += votes
        assert total == 20
        csv = page.request.get(f"http://127.0.0.1:{server.port}/results.csv").text()
        assert csv.count("\n") == 21
        assert csv.startswith("judge,item,endpoint,choice")
    finally:
        server.shutdown()


def test_non_loopback_needs_the_token(tmp_path, browser):
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    server = JudgeServer(_report(tmp_path), address, 0)
    _serve(server)
    try:
        assert server.token
        stranger = browser.new_context()
        response = stranger.new_page().goto(f"http://{address}:{server.port}/")
        assert response.status == 403
        friend = browser.new_context()
        page = friend.new_page()
        assert page.goto(server.link()).status == 200
        page.fill("input[name=judge]", "Bob")
        page.click("text=Start")
        page.click("text=Can't tell")  # the cookie carries the token on: the vote lands
        assert server.votes.all()[0][0] == "Bob"
    finally:
        server.shutdown()
