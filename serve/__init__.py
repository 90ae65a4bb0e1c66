"""Serving: vLLM's own OpenAI-compatible server for a base model and its clone adapters."""

from clonekit.serve.foreground import client_snippet
from clonekit.serve.launcher import plan_server
from clonekit.serve.process import Server

__all__ = ["Server", "plan_server", "client_snippet"]
