"""Exact-match accuracy of a checkpoint on eval.jsonl, greedy decoding.

  python evaluate.py --model out/model.pt            # in-process
  python evaluate.py --url http://127.0.0.1:8000     # through serve.py (HTTP)
Prints one JSON line: {"accuracy":..,"correct":..,"total":..,"seconds":..}
"""
import argparse
import json
import sys
import time
import urllib.request
from collections.abc import Callable

from tiny_llm import EXAMPLE_DIR

# The characters JavaScript's String.prototype.trim() removes (WhiteSpace + LineTerminator). Slipway's
# `exact_match` scorer trims with it; Python's str.strip() differs (it also strips \x1c-\x1f and \x85,
# and keeps \ufeff), so a bare strip() would score some answers differently from the release gate.
JS_WHITESPACE = (
    "\t\n\x0b\x0c\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def exact_match(answer: str, expected: str) -> bool:
    """Slipway's `exact_match` scorer (case-sensitive): equal after trimming surrounding whitespace."""
    return answer.strip(JS_WHITESPACE) == expected.strip(JS_WHITESPACE)


def ask_http(url: str, prompt: str) -> str:
    body = json.dumps({"model": "tiny-llm", "messages": [{"role": "user", "content": prompt}],
                       "max_tokens": 8, "temperature": 0}).encode()
    req = urllib.request.Request(url.rstrip("/") + "/v1/chat/completions", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        content: str = json.load(r)["choices"][0]["message"]["content"]
        return content


def in_process(model_path: str) -> Callable[[str], str]:
    import torch

    from tiny_llm.model import default_threads, generate, load_model

    torch.set_num_threads(default_threads())
    model = load_model(model_path)
    return lambda prompt: generate(model, prompt, max_tokens=8)[0].decode("utf-8", errors="replace")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model")
    src.add_argument("--url")
    p.add_argument("--data", default=str(EXAMPLE_DIR / "eval.jsonl"))
    p.add_argument("--show-errors", type=int, default=5)
    a = p.parse_args(argv)

    ask = in_process(a.model) if a.model else (lambda prompt: ask_http(a.url, prompt))
    with open(a.data, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    t0, correct, shown = time.time(), 0, 0
    for r in rows:
        got = ask(r["prompt"])
        if exact_match(got, r["expected"]):
            correct += 1
        elif shown < a.show_errors:
            shown += 1
            print(f"miss: {r['prompt']!r} expected {r['expected']!r} got {got!r}", file=sys.stderr)
    print(json.dumps({"accuracy": round(correct / len(rows), 4), "correct": correct,
                      "total": len(rows), "seconds": round(time.time() - t0, 2)}))


if __name__ == "__main__":
    main()
