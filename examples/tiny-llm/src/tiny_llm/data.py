"""Deterministically generate train.jsonl and eval.jsonl (2-digit addition).

Operands are 10..99. Held-out pairs are chosen as *unordered* pairs, so
neither a+b nor b+a of an eval question ever appears in training.
Run: python make_data.py   (same output every time; outputs are committed)
"""
import json
import random
from pathlib import Path

from tiny_llm import EXAMPLE_DIR

SEED = 1234
N_HELDOUT_PAIRS = 100  # unordered pairs -> ~200 eval rows

# (template, weight). Several phrasings so the model must find the numbers
# rather than memorise byte offsets; "What is a+b?" is the canonical one.
PHRASINGS = [
    ("What is {a}+{b}?", 6),
    ("{a}+{b}=", 2),
    ("What is {a} plus {b}?", 2),
]

Row = dict[str, str]


def phrase(rng: random.Random, a: int, b: int) -> str:
    templates = [t for t, _ in PHRASINGS]
    weights = [w for _, w in PHRASINGS]
    return rng.choices(templates, weights=weights)[0].format(a=a, b=b)


def generate_rows(seed: int = SEED) -> tuple[list[Row], list[Row]]:
    """(train rows, eval rows): every ordered pair once, the held-out unordered pairs in eval."""
    rng = random.Random(seed)
    unordered = [(a, b) for a in range(10, 100) for b in range(a, 100)]
    heldout = set(rng.sample(unordered, N_HELDOUT_PAIRS))
    train: list[Row] = []
    evals: list[Row] = []
    for a in range(10, 100):
        for b in range(10, 100):
            row = {"prompt": phrase(rng, a, b), "expected": str(a + b)}
            if (min(a, b), max(a, b)) in heldout:
                evals.append(dict(row, scorer="exact_match"))
            else:
                train.append(row)
    rng.shuffle(train)
    return train, evals


def to_jsonl(rows: list[Row]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def main(out_dir: Path = EXAMPLE_DIR) -> None:
    train, evals = generate_rows()
    for name, rows in (("train.jsonl", train), ("eval.jsonl", evals)):
        (out_dir / name).write_text(to_jsonl(rows), encoding="utf-8")
        print(f"wrote {len(rows)} rows to {name}")


if __name__ == "__main__":
    main()
