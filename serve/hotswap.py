"""Hot-swap, rollback and A/B on a running `clonekit serve --registry`: vLLM's runtime LoRA loading behind the API
key, and the served name as an alias (serve/aliases.py).

Every change is checked against the registry first (clonekit/registry.py: gate, approval, base, template, core),
done on the server, and only then written to the audit log; a refused change leaves the server as it was.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from clonekit.errors import ClonekitError
from clonekit.registry import Registry, RegistryState, served_version_name
from clonekit.serve.aliases import CONTROL_PATH

CANDIDATE_SUFFIX = "-candidate"  # the A/B name: `clone-candidate`


@dataclass
class ServerControl:
    base_url: str  # http://host:port/v1
    api_key: str | None = None

    @classmethod
    def from_env(cls, base_url: str, key_env: str = "CLONEKIT_API_KEY") -> ServerControl:
        return cls(base_url.rstrip("/"), os.environ.get(key_env) or None)

    def _request(self, method: str, path: str, data: dict | None = None) -> tuple[int, dict | str]:
        root = self.base_url.removesuffix("/v1")
        req = urllib.request.Request(
            root + path,
            method=method,
            data=json.dumps(data).encode() if data is not None else None,
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}),
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                body = r.read().decode()
                status = r.status
        except urllib.error.HTTPError as e:
            body, status = e.read().decode(errors="replace"), e.code
        except (urllib.error.URLError, OSError) as e:
            raise ClonekitError(
                f"cannot reach the server at {self.base_url} ({getattr(e, 'reason', e)}): is "
                "`clonekit serve --registry` running there?"
            ) from None
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body

    def aliases(self) -> dict[str, str]:
        status, body = self._request("GET", CONTROL_PATH)
        if status == 401:
            raise ClonekitError(f"the server at {self.base_url} refused the API key (set $CLONEKIT_API_KEY)")
        if status != 200 or not isinstance(body, dict):
            raise ClonekitError(
                f"the server at {self.base_url} has no model aliases ({status}): start it with "
                "`clonekit serve --registry DIR`"
            )
        return body["aliases"]

    def set_aliases(self, update: dict[str, str | None]) -> dict[str, str]:
        status, body = self._request("PUT", CONTROL_PATH, {"aliases": update})
        if status != 200 or not isinstance(body, dict):
            raise ClonekitError(f"the server at {self.base_url} refused the alias change ({status}: {body})")
        return body["aliases"]

    def loaded(self) -> set[str]:
        status, body = self._request("GET", "/v1/models")
        if status != 200 or not isinstance(body, dict):
            raise ClonekitError(f"the server at {self.base_url} did not list its models ({status}: {body})")
        return {m["id"] for m in body.get("data", [])}

    def load(self, name: str, path: str) -> None:
        if name in self.loaded():
            return
        status, body = self._request("POST", "/v1/load_lora_adapter", {"lora_name": name, "lora_path": path})
        if status == 404 and "Not Found" in str(body):
            raise ClonekitError(
                f"the server at {self.base_url} does not load adapters at run time: start it with "
                "`clonekit serve --registry DIR`"
            )
        if status != 200:
            raise ClonekitError(f"the server could not load {name} from {path} ({status}: {body}); nothing changed")

    def unload(self, name: str) -> None:
        self._request("POST", "/v1/unload_lora_adapter", {"lora_name": name})


def served_map(reg: Registry, state: RegistryState) -> tuple[dict[str, str], dict[str, str]]:
    """({loaded name: version dir}, {alias: loaded name}) for serving the registry as it stands: live (under the
    served name), the version before it (for an instant rollback) and the A/B candidate."""
    name = reg.served_name
    keep = [v for v in (state.live, state.history[-2] if len(state.history) > 1 else None, state.ab) if v]
    loaded = {served_version_name(name, v): str(reg.load_version(v).dir.resolve()) for v in dict.fromkeys(keep)}
    aliases = {}
    if state.live:
        aliases[name] = served_version_name(name, state.live)
    if state.ab:
        aliases[name + CANDIDATE_SUFFIX] = served_version_name(name, state.ab)
    return loaded, aliases


def _apply(reg: Registry, server: ServerControl, state_after: RegistryState) -> float:
    """Load what the new state serves, point the aliases, unload the rest; returns the seconds the swap took."""
    loaded, aliases = served_map(reg, state_after)
    started = time.perf_counter()
    server.aliases()  # a registry server? (before anything changes)
    for lora_name, path in loaded.items():
        server.load(lora_name, path)
    current = server.aliases()
    server.set_aliases({**{k: None for k in current if k not in aliases}, **aliases})
    seconds = time.perf_counter() - started
    # What the aliases pointed at until now stays loaded until the next swap: a request the middleware rewrote to it
    # just before the switch may reach vLLM's model check after it, and would get a 404 if it were unloaded now
    # (seen under load in tests/registry/test_cycle_e2e.py, on a rollback).
    draining = set(current.values())
    prefix = reg.served_name + "@"
    for lora_name in server.loaded():
        if lora_name.startswith(prefix) and lora_name not in loaded and lora_name not in draining:
            server.unload(lora_name)
    return seconds


def promote(reg: Registry, ref: str, server: ServerControl | None, actor: str | None, reason: str) -> dict:
    """Make a version live: checked, hot-swapped on the server (when given), then logged."""
    state = reg.state()
    vid = reg.resolve(ref, state)
    problem = reg.promotion_problem(vid, state)
    if problem:
        raise ClonekitError(f"not promoted: {problem}; nothing was changed")
    before = state.live
    after = RegistryState(
        state.versions, vid, state.history + [vid], state.candidate, None if state.ab == vid else state.ab
    )
    seconds = _apply(reg, server, after) if server else None
    reg.audit.append(
        "promoted",
        reason=reason,
        actor=actor,
        version=vid,
        previous=before,
        hot_swapped=server is not None,
        swap_seconds=seconds,
        server=server.base_url if server else None,
    )
    return {"version": vid, "previous": before, "swap_seconds": seconds}


def rollback(reg: Registry, server: ServerControl | None, actor: str | None, reason: str) -> dict:
    """Back to the version that was live before the current one."""
    state = reg.state()
    if len(state.history) < 2:
        raise ClonekitError("nothing to roll back to: no version was live before the current one", reg.root)
    current, back = state.history[-1], state.history[-2]
    reg.load_version(back)  # checked before anything changes
    after = RegistryState(state.versions, back, state.history[:-1], state.candidate, state.ab)
    seconds = _apply(reg, server, after) if server else None
    reg.audit.append(
        "rolled_back",
        reason=reason,
        actor=actor,
        version=current,
        to=back,
        hot_swapped=server is not None,
        swap_seconds=seconds,
        server=server.base_url if server else None,
    )
    return {"from": current, "to": back, "swap_seconds": seconds}


def start_ab(
    reg: Registry, ref: str, share: float, server: ServerControl | None, actor: str | None, reason: str
) -> dict:
    """Serve a version that passed the gate beside live as `<served name>-candidate`; the bot sends `share` of its
    replies there (its `ab_share`) and records reactions per version."""
    state = reg.state()
    vid = reg.resolve(ref, state)
    v = state.versions[vid]
    if v.gate_failed or not v.gate_passed or v.rejected:
        raise ClonekitError(
            f"{vid} has not passed the gate (or was rejected): only a gated version is shown to "
            "people; nothing was changed"
        )
    if not 0 < share < 1:
        raise ClonekitError(f"--share must be between 0 and 1 (got {share})")
    after = RegistryState(state.versions, state.live, state.history, state.candidate, vid)
    seconds = _apply(reg, server, after) if server else None
    reg.audit.append(
        "ab_started",
        reason=reason,
        actor=actor,
        version=vid,
        share=share,
        served_as=reg.served_name + CANDIDATE_SUFFIX,
        swap_seconds=seconds,
    )
    return {"version": vid, "share": share}
