#!/usr/bin/env bash
# One learning cycle on the CPU, after the main demo (scripts/demo.sh trains runs/demo): a registry with the demo
# clone as v1 (live), `clonekit serve --registry`, a scripted consented chat with corrections (stored per
# version), `clonekit evolve run` (candidate from live: SFT on the new material + replay, DPO on the corrections;
# the gate on the running server, the candidate under its version name), approval by a person, a hot-swap while a
# client keeps sending requests, a rollback, the audit log, and `clonekit registry verify`.
set -euo pipefail
cd "$(dirname "$0")/.."
CK=.venv/bin/clonekit
RUN=${RUN:-runs/demo}
REG=${REG:-runs/registry-demo}
STORE=runs/evolve-store.db
PORT=${PORT:-8767}
URL=http://127.0.0.1:$PORT/v1
[ -f "$RUN/clonekit.json" ] || { echo "no $RUN: run scripts/demo.sh first (it trains the clone)"; exit 1; }
rm -rf "$REG" "$STORE" "$STORE"-wal "$STORE"-shm runs/swap-stop
started=$(date +%s)

echo "== 1. a registry: the read-only core from the clone's dataset, and the clone as v1 (live)"
$CK registry init "$RUN" -r "$REG" --reason "the demo clone"
echo "== 2. serve the registry (live under the name the bot uses, hot-swappable)"
$CK serve --registry "$REG" --port $PORT > runs/evolve-serve.log 2>&1 &
SERVER=$!
trap 'touch runs/swap-stop; kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT
for _ in $(seq 300); do
  .venv/bin/python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/health', timeout=2)" 2>/dev/null && break
  kill -0 $SERVER 2>/dev/null || { tail -20 runs/evolve-serve.log; exit 1; }
  sleep 1
done
echo "== 3. a consented chat with the clone; the friends correct it (/correct) and like a reply (/good)"
$CK chat --base-url $URL --model clone --adapter "$RUN" --script scripts/evolve_chat.txt --quiet 0 \
  --store "$STORE" --consent --registry "$REG"
echo "== 4. clonekit evolve: a candidate from live, trained in a sandbox, then the gate"
$CK evolve run -r "$REG" --store "$STORE" -c configs/evolve.yaml --server $URL --quiet || true
$CK registry list -r "$REG"
CAND=$(.venv/bin/python -c "
from clonekit.registry import Registry; s = Registry('$REG').state(); print(s.candidate or '')")
if [ -z "$CAND" ] || ! $CK registry approve "$CAND" -r "$REG" --reason "a person read the gate's figures"; then
  echo "no candidate passed the gate: nothing to promote (what is served did not change)"
  $CK registry log -r "$REG"; $CK registry verify -r "$REG"; exit 0
fi
echo "== 5. hot-swap while a client keeps sending requests, then roll back"
.venv/bin/python scripts/swap_load.py --base-url $URL --model clone --stop-file runs/swap-stop --out runs/swap-load.json &
LOAD=$!
sleep 3
$CK registry promote "$CAND" -r "$REG" --server $URL --reason "approved; gate passed"
sleep 4
$CK registry rollback -r "$REG" --server $URL --reason "demo: back to the previous version"
sleep 3
touch runs/swap-stop
wait $LOAD
echo "== 6. the audit log, and its verification"
$CK registry log -r "$REG"
$CK registry verify -r "$REG"
echo "cycle took $(( $(date +%s) - started )) s"
