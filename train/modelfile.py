"""An Ollama `Modelfile` for an exported clone: FROM the GGUF, a TEMPLATE in Ollama's Go-template syntax that renders
a chat exactly as the training template does, the end-of-turn stop, `clonekit serve`'s sampling defaults and the
persona's system prompt.

Two things of Ollama's shape the TEMPLATE (ollama/template/template.go, checked by a golden test that renders it
with Go's own text/template, as Ollama does):
- Ollama's messages have no `name` field, and Ollama merges consecutive messages of one role into one (joined by a
  blank line): two friends' messages in a row would become one unnamed turn. Tool messages are the exception: they
  are never merged and carry a name (`tool_name`). So a group chat is sent to Ollama's /api/chat with every other
  speaker's message as `{"role": "tool", "tool_name": "Maya", "content": ...}`, which the TEMPLATE renders as the
  training template renders `{"role": "user", "name": "Maya"}`. A plain `user` message (`ollama run`) renders as
  the nameless user turn.
- Ollama collects the system messages into `.System`; the Modelfile's SYSTEM is used when a chat brings none.

Loop prevention: Ollama exposes no DRY sampler (ollama/ollama#7504) and rejects unknown PARAMETERs, so the Modelfile
carries the sampling defaults Ollama has (temperature, top_p, frequency_penalty, num_predict) and, as a comment, the
llama.cpp DRY flags equivalent to clonekit's anti-loop settings for llama-server and LM Studio.
Not converted: the neutralizing of typed control tokens (the training template writes "<|" inside text as
"<\u200b|"; Go templates have no replace), so a client should do it, as clonekit's chat client does.
"""

from __future__ import annotations

import json
from pathlib import Path

from clonekit.contracts import AdapterManifest
from clonekit.errors import ClonekitError
from clonekit.manifest import TEMPLATE_FILE

CHATML_TEMPLATE = (
    "{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
    "{{- range .Messages }}"
    '{{- if eq .Role "assistant" }}<|im_start|>assistant\n{{ .Content }}<|im_end|>\n'
    '{{ else if eq .Role "tool" }}<|im_start|>user{{ if .ToolName }} {{ .ToolName }}{{ end }}\n'
    "{{ .Content }}<|im_end|>\n"
    '{{ else if eq .Role "user" }}<|im_start|>user\n{{ .Content }}<|im_end|>\n'
    "{{ end }}"
    "{{- end }}<|im_start|>assistant\n"
)
END_OF_TURN = "<|im_end|>"


# llama.cpp's DRY sampler settings equal to the DRY part of `clonekit serve`'s anti-loop defaults (multiplier,
# base, allowed length of serve/antiloop.py's AntiLoopSettings; a test keeps them equal: train/ does not import
# serve/); the range is the whole context (-1), as clonekit's covers every earlier clone turn in the prompt.
DRY_FLAGS: dict[str, float | int] = {
    "dry_multiplier": 1.0,
    "dry_base": 1.75,
    "dry_allowed_length": 2,
    "dry_penalty_last_n": -1,
}


def _quoted(text: str) -> str:
    if '"""' in text:
        raise ClonekitError('a Modelfile cannot hold text with """ in it (the persona\'s system prompt)')
    return f'"""{text}"""'


def modelfile(run: Path, manifest: AdapterManifest, gguf_name: str) -> str:
    """The Modelfile text for the GGUF `gguf_name` beside it."""
    template = (run / TEMPLATE_FILE).read_text(encoding="utf-8")
    if "<|im_start|>user" not in template or manifest.end_of_turn != END_OF_TURN:
        raise ClonekitError("an Ollama TEMPLATE is written for clonekit's ChatML-with-names template only", run)
    generation = {}
    if (run / "generation_config.json").exists():
        generation = json.loads((run / "generation_config.json").read_text(encoding="utf-8"))
    target = manifest.dataset.target or run.name
    lines = [
        f"# clonekit clone of {target}. `ollama create NAME -f Modelfile`, then `ollama run NAME`.",
        "# Group chats through Ollama's /api/chat: send each other speaker's message as",
        '#   {"role": "tool", "tool_name": "Maya", "content": "..."}  (Ollama messages carry no name, and Ollama',
        "#   merges consecutive user messages; tool messages keep theirs). `user` is a nameless friend.",
        "# Loop prevention for llama.cpp's llama-server (Ollama has no DRY sampler):",
        "#   " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in DRY_FLAGS.items()),
        f"FROM ./{gguf_name}",
        f"TEMPLATE {_quoted(CHATML_TEMPLATE)}",
    ]
    if manifest.dataset.system_prompt:
        lines.append(f"SYSTEM {_quoted(manifest.dataset.system_prompt)}")
    lines += [f'PARAMETER stop "{END_OF_TURN}"', 'PARAMETER stop "<|im_start|>"']
    for key, name in (("temperature", "temperature"), ("top_p", "top_p"), ("frequency_penalty", "frequency_penalty")):
        if key in generation:
            lines.append(f"PARAMETER {name} {generation[key]}")
    if "max_new_tokens" in generation:
        lines.append(f"PARAMETER num_predict {generation['max_new_tokens']}")
    return "\n".join(lines) + "\n"
