#!/usr/bin/env bash
# End-to-end check: train -> serve -> HTTP eval -> smoke prompts -> resume -> under-trained run.
# Usage: examples/tiny-llm/check.sh [WORKDIR]   (PYTHON=... to pick the interpreter)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-../../.venv/bin/python}
W=${1:-$(mktemp -d)}
mkdir -p "$W"
echo "workdir: $W"

serve() {  # serve MODEL LOGPREFIX -> sets SP (pid) and PORT; prints startup seconds
  local t0=$(date +%s.%N)
  "$PY" serve.py --model "$1" --port 0 >"$W/$2.out" 2>"$W/$2.err" & SP=$!
  until grep -q '"ready"' "$W/$2.out" 2>/dev/null; do
    kill -0 "$SP" 2>/dev/null || { cat "$W/$2.err"; exit 1; }; sleep 0.05
  done
  PORT=$("$PY" -c 'import json,sys;print(json.load(open(sys.argv[1]))["port"])' "$W/$2.out")
  echo "serve startup: $(echo "$(date +%s.%N) - $t0" | bc) s (port $PORT)"
}

echo "== full training run (defaults)"
/usr/bin/time -f "train wall: %e s" "$PY" train.py --out "$W/full" 2>"$W/full.err" | grep -v '"progress"'
tail -1 "$W/full.err"
ls -l "$W/full/model.pt"

echo "== held-out accuracy through HTTP"
serve "$W/full/model.pt" full-serve
"$PY" evaluate.py --url "http://127.0.0.1:$PORT"
echo "== smoke prompts"
for pm in "Hello|50" "什么是机器学习?|100" "Write a function to sort a list|200"; do
  "$PY" - "$PORT" "${pm%|*}" "${pm#*|}" <<'EOF'
import json, sys, urllib.request
port, prompt, mt = sys.argv[1], sys.argv[2], int(sys.argv[3])
req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", json.dumps(
    {"messages": [{"role": "user", "content": prompt}], "max_tokens": mt, "temperature": 0}).encode())
with urllib.request.urlopen(req) as r:
    content = json.load(r)["choices"][0]["message"]["content"]
    print(f"HTTP {r.status} max_tokens={mt} prompt={prompt!r} -> {content!r}")
    assert r.status == 200 and content.strip(), "empty answer"
EOF
done
kill -TERM "$SP"; wait "$SP" && echo "serve exited 0 on SIGTERM"

echo "== resume: kill after the step-500 checkpoint, then --resume-from"
"$PY" train.py --out "$W/resume" --checkpoint-every 250 >"$W/resume1.log" 2>/dev/null & TP=$!
until grep -q '"step":500,"path"' "$W/resume1.log" 2>/dev/null; do sleep 0.1; done
kill -KILL "$TP"; wait "$TP" 2>/dev/null || true
echo "killed after: $(grep '"checkpoint"' "$W/resume1.log" | tail -1)"
"$PY" train.py --out "$W/resume" --resume-from "$W/resume/ckpt-000500.pt" 2>/dev/null | grep -v '"progress"'
"$PY" -c 'import sys,torch;a,b=(torch.load(p)["model"] for p in sys.argv[1:]);print("resumed == uninterrupted:",all(torch.equal(a[k],b[k]) for k in a))' \
  "$W/full/model.pt" "$W/resume/model.pt"

echo "== under-trained run (--steps 30) through HTTP"
"$PY" train.py --steps 30 --out "$W/under" 2>/dev/null | tail -1
serve "$W/under/model.pt" under-serve
"$PY" evaluate.py --url "http://127.0.0.1:$PORT" --show-errors 2
kill -TERM "$SP"; wait "$SP" || true
