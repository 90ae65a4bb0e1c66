"""`clonekit evolve run|gate`: a candidate from new chats and feedback, and the gate."""

from __future__ import annotations

from pathlib import Path

import typer

from clonekit.cli import render
from clonekit.cli.common import ACTOR_OPT, REGISTRY_OPT, SET_OPT, app, console, err_console, open_registry, user_errors

evolve_app = typer.Typer(
    help="Learn from new chats and feedback, safely: a candidate trained from the live adapter "
    "in a sandbox (`run`), and the gate that verifies it against live (`gate`). Approval, "
    "promotion and rollback: `clonekit registry`.",
    no_args_is_help=True,
)
app.add_typer(evolve_app, name="evolve")
EVOLVE_CONFIG_OPT = typer.Option(None, "--config", "-c", help="YAML with EvolveConfig fields (configs/evolve.yaml).")


@evolve_app.command("run")
@user_errors
def evolve_run(
    registry: Path = REGISTRY_OPT,
    store: Path | None = typer.Option(None, help="The bot's conversation store (default: the config's `store`)."),
    config: Path | None = EVOLVE_CONFIG_OPT,
    work: Path | None = typer.Option(
        None, help="Working directory for the material and the training runs (default: REGISTRY/work/<time>)."
    ),
    server: str | None = typer.Option(
        None,
        "--server",
        help="Gate on this running `clonekit serve --registry` "
        "(the candidate loaded under its version name, which no client asks for); "
        "default: a sandbox server of its own.",
    ),
    gate: bool = typer.Option(True, "--gate/--no-gate", help="Run the gate right after training."),
    actor: str | None = ACTOR_OPT,
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
    sets: list[str] | None = SET_OPT,
):
    """Train a candidate from the live version on the consented chats and feedback since its cut-off (plus a replay
    sample), register it, and run the gate. Nothing served changes."""
    import time

    from clonekit.config import EvolveConfig, apply_sets, load_config
    from clonekit.learn.evolve import gate_version, make_candidate

    cfg = apply_sets(load_config(EvolveConfig, config, store=str(store) if store else None), sets)
    reg = open_registry(registry)
    work = work or registry / "work" / time.strftime("%Y%m%d-%H%M%S")
    log = lambda s: err_console.print(s, highlight=False)  # noqa: E731
    vid, _ = make_candidate(reg, cfg, work, actor, log, show_progress=not quiet)
    console.print(f"candidate {vid} registered (parent {reg.state().versions[vid].parent})")
    if gate:
        verdict = gate_version(reg, vid, cfg, server, actor, log)
        render.verdict(verdict)
        if not verdict.passed:
            raise typer.Exit(1)


@evolve_app.command("gate")
@user_errors
def evolve_gate(
    version: str = typer.Argument("candidate", help="The version to verify against live."),
    registry: Path = REGISTRY_OPT,
    config: Path | None = EVOLVE_CONFIG_OPT,
    server: str | None = typer.Option(
        None, "--server", help="Gate on this running `clonekit serve --registry`; default: a sandbox server of its own."
    ),
    actor: str | None = ACTOR_OPT,
    sets: list[str] | None = SET_OPT,
):
    """The gate: candidate vs live on the frozen evaluation set and the new material (held-out loss within the
    stability budget; style, relevance, loops no worse within intervals; the core's adversarial probes). The
    verdict goes into the audit log; exit 1 when it fails."""
    from clonekit.config import EvolveConfig, apply_sets, load_config
    from clonekit.learn.evolve import gate_version

    cfg = apply_sets(load_config(EvolveConfig, config), sets)
    reg = open_registry(registry)
    vid = reg.resolve(version)
    verdict = gate_version(reg, vid, cfg, server, actor, lambda s: err_console.print(s, highlight=False))
    render.verdict(verdict)
    if not verdict.passed:
        raise typer.Exit(1)
