"""`clonekit compare`'s NAME=... options into endpoints and `CompareSettings`, checked against each other: every
name an option gives is one of the endpoints."""

from __future__ import annotations

from clonekit.compare.endpoints import Endpoint, parse_endpoint
from clonekit.config import CompareSettings
from clonekit.errors import ClonekitError
from clonekit.manifest import parse_adapter_args


def selfplay_chats(values: list[str], names: list[str]) -> tuple[int, dict[str, int]]:
    """`--selfplay-chats` values: N (every endpoint; the last one given wins) and NAME=N (one endpoint)."""
    every, per = 100, {}
    for value in values:
        name, _, count = value.rpartition("=")
        if not count.strip().isdigit():
            raise ClonekitError(f"--selfplay-chats {value!r}: expected N or NAME=N with N a whole number >= 0")
        if not name:
            every = int(count)
        elif name in names:
            per[name] = int(count)
        else:
            raise ClonekitError(f"--selfplay-chats {value!r}: {name!r} is not one of the endpoints {names}")
    return every, per


def endpoints_and_settings(
    specs: list[str],
    adapters: list[str],
    chats: list[str],
    guarded: list[str],
    speak: list[str],
    ab: str | None,
    **plain,
) -> tuple[list[Endpoint], CompareSettings]:
    """The endpoints (`-e NAME=URL,MODEL[,KEY_ENV]`) and the settings, with `plain` the options that are settings
    fields as they are (limit, max_tokens, ...)."""
    endpoints = [parse_endpoint(e) for e in specs]
    names = [e.name for e in endpoints]
    if len(set(names)) != len(names):
        raise ClonekitError(f"endpoint names must differ: {names}")
    if guarded and guarded != ["none"] and not set(guarded) <= set(names):
        raise ClonekitError(f"--guarded {guarded}: expected endpoint names among {names}, or `none`")
    if ab is not None and ab not in names:
        raise ClonekitError(f"--ab {ab!r}: not one of the endpoints {names}")
    chats_all, chats_for = selfplay_chats(chats, names)
    settings = CompareSettings(
        selfplay_chats=chats_all,
        selfplay_chats_for=chats_for,
        guarded=[] if guarded == ["none"] else (guarded or list(names)),
        adapters={name: str(run) for name, run in parse_adapter_args(adapters, default_name=None, names=names)},
        speak_runs={name: str(run) for name, run in parse_adapter_args(speak, default_name=None, names=names)},
        **plain,
    )
    return endpoints, settings
