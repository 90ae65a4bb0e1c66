"""Serving: vLLM's own OpenAI-compatible server for a base model and its clone adapters."""

from clonekit.serve.launcher import Server, client_snippet, plan_server

__all__ = ["Server", "plan_server", "client_snippet"]
