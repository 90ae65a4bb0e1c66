"""The gate: external verification of a candidate version against the live one, before any person may approve it.

Both versions are served side by side in a sandbox (a vLLM server of their own, or a running registry server where
the candidate is loaded under its version name, which no client asks for) and measured on the frozen evaluation
set, the original dataset's validation split, and on the new material:
- held-out loss on the original validation set may rise by at most `stability_budget` (relative: 0.02 = 2 %);
- style fidelity, relevance, loop rate and phrase over-use must be no worse than live's, within the candidate's
  95 % interval (the check fails only when the whole interval lies on the worse side of live's figure);
- every adversarial probe of the core's hard rules (learn/probes.py) must pass.
The verdict, with every figure, goes into the audit log (`evaluated`); a version that failed is never promoted.
"""

from __future__ import annotations

from pathlib import Path

from clonekit.compare.endpoints import Endpoint
from clonekit.config import CompareSettings, GateConfig
from clonekit.contracts import GateCheck, GateVerdict
from clonekit.dataset import TRAIN_FILE
from clonekit.readonly_core import Core

# metric, higher is better?
QUALITY = (("style_target_prob", True), ("relevance", True), ("loop_rate", False), ("phrase_overuse_worst", False))


def check(name: str, ok: bool, detail: str) -> GateCheck:
    return GateCheck(name=name, ok=bool(ok), detail=detail)


def stability_check(live_loss: float, cand_loss: float, budget: float) -> GateCheck:
    rise = (cand_loss - live_loss) / live_loss
    return check(
        "held-out loss",
        rise <= budget,
        f"live {live_loss:.4f}, candidate {cand_loss:.4f} ({rise:+.1%}; budget +{budget:.1%})",
    )


def quality_checks(live: dict, cand: dict) -> list[GateCheck]:
    out = []
    for metric, higher_better in QUALITY:
        lv, cv = live.get(metric), cand.get(metric)
        if lv is None or cv is None:
            continue
        lo, hi = (cand.get("intervals", {}).get(metric) or [cv, cv])[:2]
        worse = hi < lv if higher_better else lo > lv
        out.append(check(metric, not worse, f"live {lv:.3f}, candidate {cv:.3f} [{lo:.3f}, {hi:.3f}]"))
    return out


def probe_check(results: list[dict]) -> GateCheck:
    bad = [r for r in results if r["violation"]]
    detail = f"{len(results) - len(bad)} of {len(results)} probes passed"
    if bad:
        detail += "; " + "; ".join(f"{r['rule']}: {r['violation']}" for r in bad[:4])
    return check("core rules (adversarial probes)", not bad, detail)


def run_gate(
    live: Endpoint,
    candidate: Endpoint,
    live_dir: Path,
    candidate_dir: Path,
    eval_data: Path,
    new_data: Path | None,
    core: Core,
    settings: GateConfig,
    log=print,
    progress=None,
) -> GateVerdict:
    """The verdict: passed, the checks, every figure, the probes."""
    from clonekit.compare.run import run_compare
    from clonekit.learn.probes import run_probes
    from clonekit.train.evaluate import heldout_loss

    figures: dict = {}
    log("held-out loss on the frozen validation set ...")
    live_loss = heldout_loss(live_dir, eval_data)["adapter"]["loss"]
    cand_loss = heldout_loss(candidate_dir, eval_data)["adapter"]["loss"]
    figures.update(heldout_loss_live=live_loss, heldout_loss_candidate=cand_loss)
    checks = [stability_check(live_loss, cand_loss, settings.stability_budget)]
    if new_data is not None and (Path(new_data) / TRAIN_FILE).exists():
        for name, d in (("live", live_dir), ("candidate", candidate_dir)):
            figures[f"new_material_loss_{name}"] = heldout_loss(d, new_data, split="train")["adapter"]["loss"]

    compare = CompareSettings(
        limit=settings.cases,
        max_tokens=settings.max_tokens,
        concurrency=settings.concurrency,
        selfplay_chats=settings.selfplay_chats,
        selfplay_turns=settings.selfplay_turns,
        guarded=[],
        seed=settings.seed,
    )
    report, _, _ = run_compare(eval_data, [live, candidate], compare, log=log, progress=progress)
    rows = report.endpoints
    for metric, _ in QUALITY:
        for name in ("live", "candidate"):
            figures[f"{metric}_{name}"] = rows[(live if name == "live" else candidate).name].get(metric)
    checks += quality_checks(rows[live.name], rows[candidate.name])

    log("adversarial probes of the core's rules ...")
    probes = run_probes(candidate, core)
    checks.append(probe_check(probes))
    return GateVerdict(
        passed=all(c.ok for c in checks),
        checks=checks,
        figures=figures,
        probes=[{k: p[k] for k in ("rule", "prompt", "violation")} for p in probes],
    )
