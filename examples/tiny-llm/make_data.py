"""Deterministically generate train.jsonl and eval.jsonl (2-digit addition).

Operands are 10..99. Held-out pairs are chosen as *unordered* pairs, so
neither a+b nor b+a of an eval question ever appears in training.
Run: python make_data.py   (same output every time; outputs are committed)
"""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 1234
N_HELDOUT_PAIRS = 100  # unordered pairs -> ~200 eval rows

# (template, weight). Several phrasings so the model must find the numbers
# rather than memorise byte offsets; "What is a+b?" is the canonical one.
PHRASINGS = [
    ("What is {a}+{b}?", 6),
    ("{a}+{b}=", 2),
    ("What is {a} plus {b}?", 2),
]


def phrase(rng, a, b):
    templates, weights = zip(*PHRASINGS)
    return rng.choices(templates, weights=weights)[0].format(a=a, b=b)


def main():
    rng = random.Random(SEED)
    unordered = [(a, b) for a in range(10, 100) for b in range(a, 100)]
    heldout = set(rng.sample(unordered, N_HELDOUT_PAIRS))
    train, evals = [], []
    for a in range(10, 100):
        for b in range(10, 100):
            row = {"prompt": phrase(rng, a, b), "expected": str(a + b)}
            if (min(a, b), max(a, b)) in heldout:
                evals.append(dict(row, scorer="exact_match"))
            else:
                train.append(row)
    rng.shuffle(train)
    for name, rows in (("train.jsonl", train), ("eval.jsonl", evals)):
        with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        print(f"wrote {len(rows)} rows to {name}")


if __name__ == "__main__":
    main()
