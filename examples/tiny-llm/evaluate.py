"""Exact-match accuracy of a checkpoint on eval.jsonl, greedy decoding.

  python evaluate.py --model out/model.pt            # in-process
  python evaluate.py --url http://127.0.0.1:8000     # through serve.py (HTTP)
Prints one JSON line: {"accuracy":..,"correct":..,"total":..,"seconds":..}
"""
import argparse
import json
import os
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def ask_http(url, prompt):
    body = json.dumps({"model": "tiny-llm", "messages": [{"role": "user", "content": prompt}],
                       "max_tokens": 8, "temperature": 0}).encode()
    req = urllib.request.Request(url.rstrip("/") + "/v1/chat/completions", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)["choices"][0]["message"]["content"]


def main():
    p = argparse.ArgumentParser()
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model")
    src.add_argument("--url")
    p.add_argument("--data", default=os.path.join(HERE, "eval.jsonl"))
    p.add_argument("--show-errors", type=int, default=5)
    a = p.parse_args()

    if a.model:
        import torch
        from model import default_threads, generate, load_model
        torch.set_num_threads(default_threads())
        model = load_model(a.model)

        def ask(prompt):
            return generate(model, prompt, max_tokens=8)[0].decode("utf-8", errors="replace")
    else:
        def ask(prompt):
            return ask_http(a.url, prompt)

    rows = [json.loads(line) for line in open(a.data, encoding="utf-8") if line.strip()]
    t0, correct, shown = time.time(), 0, 0
    for r in rows:
        got = ask(r["prompt"])
        if got.strip() == r["expected"].strip():
            correct += 1
        elif shown < a.show_errors:
            shown += 1
            print(f"miss: {r['prompt']!r} expected {r['expected']!r} got {got!r}", file=sys.stderr)
    print(json.dumps({"accuracy": round(correct / len(rows), 4), "correct": correct,
                      "total": len(rows), "seconds": round(time.time() - t0, 2)}))


if __name__ == "__main__":
    main()
