"""`clonekit registry ...`: versions, the audit log, approval, promotion, rollback, A/B."""

from __future__ import annotations

from pathlib import Path

import typer

from clonekit.cli import render
from clonekit.cli.common import ACTOR_OPT, REGISTRY_OPT, app, console, err_console, open_registry, user_errors

registry_app = typer.Typer(
    help="Versioned adapters: list, show, diff, verify the audit log; approve, reject, promote "
    "(hot-swap into a running `clonekit serve --registry`), roll back, A/B.",
    no_args_is_help=True,
)
app.add_typer(registry_app, name="registry")
SERVER_OPT = typer.Option(
    None,
    "--server",
    help="A running `clonekit serve --registry` (its /v1 URL) to hot-swap; "
    "the key comes from $CLONEKIT_API_KEY. Without it only the "
    "registry changes (a restarted server serves it).",
)


@registry_app.command("init")
@user_errors
def registry_init(
    run: Path = typer.Argument(..., help="The adapter being served now (from `clonekit train`): version 1, live."),
    registry: Path = REGISTRY_OPT,
    served_name: str = typer.Option("clone", help="The model name the bot asks for."),
    exclude: list[str] | None = typer.Option(
        None, "--exclude", help="People the clone never speaks for (default: the first dataset's exclude list)."
    ),
    actor: str | None = ACTOR_OPT,
    reason: str = typer.Option("first version", "--reason", help="Why (goes into the audit log)."),
):
    """Create a registry: the read-only core (persona, system prompt, hard rules) from RUN's dataset, and RUN as v1."""
    from clonekit.registry import Registry

    reg = Registry(registry)
    vid = reg.init(run, served_name, exclude, actor, reason)
    core, sha = reg.core()
    console.print(
        f"registry {registry}: core {sha[:12]} ({core.name}; {len(core.rules)} rules, excluded: "
        f"{', '.join(core.excluded) or 'nobody'}); {vid} is live as `{served_name}`"
    )


@registry_app.command("list")
@user_errors
def registry_list(registry: Path = REGISTRY_OPT):
    """Every version: status, parent, aliases, gate verdict, feedback."""
    reg = open_registry(registry)
    render.registry_list(reg.state(), f"registry {registry}")


@registry_app.command("show")
@user_errors
def registry_show(
    version: str = typer.Argument("live", help="A version id (or prefix: v3), live, candidate or previous."),
    registry: Path = REGISTRY_OPT,
):
    """One version: its hashes, training metrics, gate figures, events and feedback."""
    reg = open_registry(registry)
    state = reg.state()
    vid = reg.resolve(version, state)
    records = [r for r in reg.audit.entries() if r.version == vid or r.data.get("to") == vid]
    if state.versions[vid].external is not None:
        render.external_version(vid, state.versions[vid], records)
        return
    render.version(vid, reg.load_version(vid).info, state.versions[vid], records)


@registry_app.command("diff")
@user_errors
def registry_diff(
    v1: str = typer.Argument(..., help="A version (or live, candidate, previous)."),
    v2: str = typer.Argument(..., help="Another version."),
    registry: Path = REGISTRY_OPT,
):
    """Two versions side by side: training metrics, gate figures and feedback."""
    reg = open_registry(registry)
    state = reg.state()
    a, b = reg.resolve(v1, state), reg.resolve(v2, state)
    render.version_diff(a, b, state, reg.load_version(a).info, reg.load_version(b).info)


@registry_app.command("verify")
@user_errors
def registry_verify(registry: Path = REGISTRY_OPT):
    """Check the audit log's hash chain (edits, deletions, reordering, records cut off), every version's files and
    the core. Exit 1 with every problem listed when anything is wrong."""
    reg = open_registry(registry)
    problems = reg.verify()
    if problems:
        for p in problems:
            where = f"{reg.audit.path}:{p.line}" if p.line else str(registry)
            err_console.print(f"[bold red]FAIL[/] {where}: {p.problem}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    records = reg.audit.entries()
    console.print(
        f"ok: {len(records)} audit records chained from the first to the head "
        f"({records[-1].hash[:16]}), {len(reg.state().versions)} versions intact, core unchanged"
    )


@registry_app.command("log")
@user_errors
def registry_log(registry: Path = REGISTRY_OPT, as_json: bool = typer.Option(False, "--json", help="Raw records.")):
    """Print the audit log (verified first)."""
    render.audit_records(open_registry(registry).audit.entries(), as_json)


@registry_app.command("approve")
@user_errors
def registry_approve(
    version: str = typer.Argument("candidate"),
    registry: Path = REGISTRY_OPT,
    actor: str | None = ACTOR_OPT,
    reason: str = typer.Option("approved by a person", "--reason", help="Why (goes into the audit log)."),
):
    """A person approves a version for promotion (it must have passed the gate)."""
    from clonekit.registry import approve_version

    console.print(f"{approve_version(registry, version, actor, reason)} approved")


@registry_app.command("reject")
@user_errors
def registry_reject(
    version: str = typer.Argument("candidate"),
    registry: Path = REGISTRY_OPT,
    actor: str | None = ACTOR_OPT,
    reason: str = typer.Option("rejected by a person", "--reason", help="Why (goes into the audit log)."),
):
    """A person rejects a version: it will not be promoted."""
    from clonekit.registry import reject_version

    console.print(f"{reject_version(registry, version, actor, reason)} rejected")


@registry_app.command("promote")
@user_errors
def registry_promote(
    version: str = typer.Argument("candidate"),
    registry: Path = REGISTRY_OPT,
    server: str | None = SERVER_OPT,
    actor: str | None = ACTOR_OPT,
    reason: str = typer.Option("promoted by a person", "--reason", help="Why (goes into the audit log)."),
):
    """Make an approved version that passed the gate live: hot-swapped into the running server, then logged."""
    from clonekit.serve.hotswap import ServerControl, promote

    reg = open_registry(registry)
    out = promote(reg, version, ServerControl.from_env(server) if server else None, actor, reason)
    swap = (
        f"; hot-swapped in {out['swap_seconds']:.2f} s"
        if out["swap_seconds"] is not None
        else " (no --server: a restarted `clonekit serve --registry` serves it)"
    )
    console.print(f"{out['version']} is live as `{reg.served_name}` (was {out['previous']}){swap}")


@registry_app.command("rollback")
@user_errors
def registry_rollback(
    registry: Path = REGISTRY_OPT,
    server: str | None = SERVER_OPT,
    actor: str | None = ACTOR_OPT,
    reason: str = typer.Option("rolled back by a person", "--reason", help="Why (goes into the audit log)."),
):
    """Restore the version that was live before the current one (hot-swapped with --server)."""
    from clonekit.serve.hotswap import ServerControl, rollback

    reg = open_registry(registry)
    out = rollback(reg, ServerControl.from_env(server) if server else None, actor, reason)
    swap = f" in {out['swap_seconds']:.2f} s" if out["swap_seconds"] is not None else ""
    console.print(f"rolled back from {out['from']} to {out['to']}{swap}")


@registry_app.command("ab")
@user_errors
def registry_ab(
    version: str = typer.Argument("candidate"),
    share: float = typer.Option(
        0.1, help="Share of replies the bot sends to the candidate (set the bot's ab_share to the same)."
    ),
    registry: Path = REGISTRY_OPT,
    server: str | None = SERVER_OPT,
    actor: str | None = ACTOR_OPT,
    reason: str = typer.Option("A/B test", "--reason", help="Why (goes into the audit log)."),
):
    """Serve a gated candidate beside live as `<served name>-candidate`, for the bot's A/B share."""
    from clonekit.serve.hotswap import ServerControl, start_ab

    reg = open_registry(registry)
    out = start_ab(reg, version, share, ServerControl.from_env(server) if server else None, actor, reason)
    console.print(f"{out['version']} served as `{reg.served_name}-candidate` for {out['share']:.0%} of replies")
