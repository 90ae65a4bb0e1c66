"""A running vLLM server: started from its plan in a process group of its own, polled until /health answers, and
stopped the way vLLM shuts down cleanly (SIGINT, then SIGTERM, then SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from clonekit.errors import ClonekitError

if TYPE_CHECKING:
    from clonekit.serve.launcher import ServerPlan


class Server:
    """A running vLLM server (context manager: stops it on exit)."""

    def __init__(self, plan: ServerPlan, log_path: Path | None = None):
        self.plan = plan
        self.log_path = log_path
        self._log = open(log_path, "ab") if log_path else None
        self.proc = subprocess.Popen(
            plan.argv,
            env=plan.env,
            stdout=self._log or None,
            stderr=subprocess.STDOUT if self._log else None,
            start_new_session=True,
        )

    @property
    def health_url(self) -> str:
        return self.plan.base_url.removesuffix("/v1") + "/health"

    def wait_ready(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ClonekitError(
                    f"vLLM exited with code {self.proc.returncode} before it was ready"
                    + (f"; its log: {self.log_path}" if self.log_path else "")
                    + _log_tail(self.log_path)
                )
            try:
                with urllib.request.urlopen(self.health_url, timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.5)
        self.stop()
        raise ClonekitError(f"vLLM was not ready after {timeout:.0f} s" + _log_tail(self.log_path))

    def stop(self, timeout: float = 30) -> None:
        """SIGINT to vLLM's process group (its clean shutdown), then SIGTERM, then SIGKILL."""
        if self.proc.poll() is None:
            for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self._log:
            self._log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _log_tail(path: Path | None, lines: int = 15) -> str:
    if not path or not path.exists():
        return ""
    tail = path.read_text(errors="replace").splitlines()[-lines:]
    return "\n" + "\n".join(tail)
