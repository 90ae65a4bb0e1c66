"""`clonekit evolve`: one learning cycle, in a sandbox. Nothing that is being served changes here.

1. Material (learn/material.py): the consented chats and the feedback stored since the live version's cut-off,
   with a replay sample of the original data, built under the read-only core's persona (and checked against it).
2. A candidate: SFT from the live adapter on the material, then DPO on the corrections when there are enough
   (`dpo_min_pairs`), registered as a new version whose parent is live.
3. The gate (learn/gate.py) on a sandbox server: candidate and live side by side; the verdict, every figure,
   goes into the audit log. A policy may approve a minor change that passed; otherwise a person approves.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from clonekit.compare.endpoints import Endpoint
from clonekit.config import EvolveConfig, PersonaConfig, PrepConfig, TrainConfig
from clonekit.contracts import GateVerdict, MaterialManifest, StoreCutoff, VersionInfo
from clonekit.dataset import TRAIN_FILE, VALID_FILE, read_dataset_manifest
from clonekit.errors import ClonekitError
from clonekit.learn.gate import run_gate
from clonekit.readonly_core import dataset_core_problem
from clonekit.registry import LoadedVersion, Registry, RegistryState, served_version_name


def eval_dataset(info: VersionInfo) -> Path:
    """The frozen evaluation set of a version's line: the first version's dataset."""
    path = info.data.eval_dataset or info.data.dataset_dir
    if not path or not (Path(path) / VALID_FILE).exists():
        raise ClonekitError(
            f"the original dataset of {info.id} is gone ({path}): the gate measures on its validation split"
        )
    return Path(path)


def _prep_config(original: Path, core) -> PrepConfig:
    config = read_dataset_manifest(original).config
    return config.model_copy(
        update={
            "target": core.name,
            "exclude": sorted(set(config.exclude) | set(core.excluded)),
            "persona": PersonaConfig(system_prompt=core.system_prompt),
        }
    )


def make_candidate(
    reg: Registry, cfg: EvolveConfig, work: Path, actor: str | None, log=print, show_progress: bool = True
) -> tuple[str, MaterialManifest]:
    """Build the material, train the candidate from live, register it; returns (version, material manifest)."""
    state = reg.state()
    if state.live is None:
        raise ClonekitError("the registry has no live version to learn from", reg.root)
    live = reg.load_version(state.live)
    if not cfg.store:
        raise ClonekitError("no conversation store: set `store` in the evolve config (or pass --store)")
    material, new_cutoff = _material(reg, live, cfg, work, log)
    run, method = _train_candidate(live, cfg, work, material, show_progress, log)
    material_info = {
        "store_cutoff": new_cutoff,
        "eval_dataset": str(eval_dataset(live.info).resolve()),
        "material_train_sha256": material.train_sha256,
        "counts": material.counts,
        "new_share": material.new_share,
        "evolve_config": cfg.model_dump(exclude={"store"}),
    }
    vid = reg.register(
        run, parent=state.live, actor=actor, reason=f"candidate from new material ({method})", material=material_info
    )
    from clonekit.manifest import read_manifest

    reg.audit.append(
        "trained",
        reason=f"{method} from {state.live} in a sandbox",
        actor=actor,
        version=vid,
        method=method,
        counts=material.counts,
        new_share=material.new_share,
        metrics={
            k: v
            for k, v in read_manifest(run).metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        },
    )
    return vid, material


def _material(reg: Registry, live: LoadedVersion, cfg: EvolveConfig, work: Path, log) -> tuple[MaterialManifest, dict]:
    """The consented chats and feedback since live's cut-off, as training material; (material, the new cut-off)."""
    from clonekit.bot.store import ConversationStore
    from clonekit.learn.material import build_material

    assert cfg.store is not None
    store = ConversationStore(cfg.store)
    cutoff = live.info.data.store_cutoff or StoreCutoff(message=0, feedback=0)
    work.mkdir(parents=True, exist_ok=True)
    try:
        messages = work / "messages.jsonl"
        n_messages = store.export_messages(messages, after_id=cutoff.message)
        feedback = store.feedback(after_id=cutoff.feedback)
        new_cutoff = store.last_ids()
    finally:
        store.close()
    core, _ = reg.core()
    original = eval_dataset(live.info)
    prep = _prep_config(original, core)
    log(f"material: {n_messages} consented messages and {len(feedback)} feedback items since {live.info.id}'s cut-off")
    material = build_material(messages, feedback, original, work / "material", prep, cfg.replay_ratio, log=log)
    found = dataset_core_problem(core, work / "material")
    if found:
        raise ClonekitError(found[0], work / "material" / TRAIN_FILE, found[1])
    c = material.counts
    log(
        f"material: {c['chat_examples']} chat examples, {c['corrections']} corrections, {c['replay']} replayed "
        f"originals, {c['pairs']} preference pairs"
    )
    return material, new_cutoff


def _train_candidate(
    live: LoadedVersion, cfg: EvolveConfig, work: Path, material: MaterialManifest, show_progress: bool, log
) -> tuple[Path, str]:
    """SFT from live on the material, then DPO on the corrections when there are enough; (run, method)."""
    from clonekit.train import train
    from clonekit.train.dpo import train_dpo

    train_cfg = TrainConfig.model_validate(
        {
            **live.manifest.config.model_dump(),
            "max_steps": cfg.max_steps,
            "epochs": cfg.epochs,
            "learning_rate": cfg.learning_rate,
            "early_stopping_patience": 0,
        }
    )
    run = train(train_cfg, work / "material", work / "sft", show_progress=show_progress, log=log, from_adapter=live.dir)
    if run is None:  # only a non-zero rank of a distributed run gets None
        raise RuntimeError("training wrote no adapter")
    pairs = material.counts["pairs"]
    if pairs < cfg.dpo_min_pairs:
        log(f"{pairs} preference pairs (fewer than {cfg.dpo_min_pairs}): no preference tuning this time")
        return run, "sft"
    dpo_cfg = train_cfg.model_copy(update={"max_steps": cfg.dpo_max_steps, "learning_rate": cfg.dpo_learning_rate})
    dpo_run = train_dpo(
        dpo_cfg, work / "material" / "pairs.jsonl", work / "dpo", from_adapter=run, show_progress=show_progress, log=log
    )
    if dpo_run is None:  # only a non-zero rank of a distributed run gets None
        raise RuntimeError("preference tuning wrote no adapter")
    return dpo_run, "sft+dpo"


def gate_version(
    reg: Registry, vid: str, cfg: EvolveConfig, server_url: str | None, actor: str | None, log=print, progress=None
) -> GateVerdict:
    """Run the gate for a version against live, log the verdict (and a policy approval)."""
    from clonekit.serve.launcher import free_port, plan_server
    from clonekit.serve.process import Server

    state = reg.state()
    live, cand = _comparable(reg, vid, state)
    core, _ = reg.core()
    material = Path(cand.info.source).parent / "material"  # evolve's material beside the candidate's run
    new_data = material if material.exists() else None
    eval_data = eval_dataset(live.info)

    def measure(base_url: str, live_model: str, cand_model: str) -> GateVerdict:
        return run_gate(
            Endpoint("live", base_url, live_model),
            Endpoint("candidate", base_url, cand_model),
            live.dir,
            cand.dir,
            eval_data,
            new_data,
            core,
            cfg.gate,
            log,
            progress,
        )

    if server_url:
        from clonekit.serve.hotswap import ServerControl

        control = ServerControl.from_env(server_url)
        names = (served_version_name(reg.served_name, live.info.id), served_version_name(reg.served_name, vid))
        control.load(names[0], str(live.dir.resolve()))
        control.load(names[1], str(cand.dir.resolve()))  # under its version name: no client asks for it
        verdict = measure(control.base_url, *names)
    else:
        log("starting a sandbox vLLM server with live and the candidate side by side ...")
        plan = plan_server([f"live={live.dir}", f"candidate={cand.dir}"], port=free_port())
        with tempfile.NamedTemporaryFile(prefix="clonekit-gate-", suffix=".log", delete=False) as f:
            server_log = Path(f.name)
        with Server(plan, server_log) as server:
            server.wait_ready()
            verdict = measure(plan.base_url, "live", "candidate")
    verdict.against = state.live
    reg.audit.append(
        "evaluated",
        reason="gate: " + ("passed" if verdict.passed else "FAILED"),
        actor=actor,
        version=vid,
        **verdict.model_dump(mode="json", exclude={"auto_approved"}),
    )
    if verdict.passed and cfg.auto_approve_minor:
        _policy_approval(reg, vid, cand.info, verdict, cfg, log)
    return verdict


def _comparable(reg: Registry, vid: str, state: RegistryState) -> tuple[LoadedVersion, LoadedVersion]:
    """(live, candidate), when the candidate came from a version and shares live's base and chat template."""
    if vid == state.live:
        raise ClonekitError(f"{vid} is live: the gate measures a candidate against live")
    if state.versions[vid].parent is None or state.live is None:
        raise ClonekitError(f"{vid} has no parent: the gate compares a candidate with the version it came from")
    live, cand = reg.load_version(state.live), reg.load_version(vid)
    if (cand.info.base, cand.info.template_sha256) != (live.info.base, live.info.template_sha256):
        raise ClonekitError(f"{vid} has another base model or chat template than live {state.live}: not comparable")
    return live, cand


def _policy_approval(reg: Registry, vid: str, info: VersionInfo, verdict: GateVerdict, cfg: EvolveConfig, log) -> None:
    """`auto_approve_minor`: a change that passed the gate and is minor (little new data, held-out loss not rising
    beyond the budget) is approved by the policy, in the log as such; a major one waits for a person."""
    live_loss, cand_loss = verdict.figures["heldout_loss_live"], verdict.figures["heldout_loss_candidate"]
    rise = (cand_loss - live_loss) / live_loss
    share = info.data.new_share if info.data.new_share is not None else 1.0
    if share <= cfg.major_new_share and rise <= cfg.major_loss_rise:
        reg.audit.append(
            "approved",
            reason=f"policy: minor change (new data {share:.0%} <= "
            f"{cfg.major_new_share:.0%}, held-out loss {rise:+.1%})",
            actor="policy:auto_approve_minor",
            version=vid,
        )
        verdict.auto_approved = True
    else:
        log(f"a major change (new data {share:.0%}, held-out loss {rise:+.1%}): a person approves it")
