"""The data generator: deterministic, reproduces the committed files, and keeps eval pairs out of training."""
import json
import re

from tiny_llm import EXAMPLE_DIR
from tiny_llm.data import generate_rows, to_jsonl

QUESTION = re.compile(r"^(?:What is (\d\d)\+(\d\d)\?|(\d\d)\+(\d\d)=|What is (\d\d) plus (\d\d)\?)$")


def operands(prompt: str) -> tuple[int, int]:
    m = QUESTION.match(prompt)
    assert m, f"unexpected phrasing: {prompt!r}"
    a, b = (int(g) for g in m.groups() if g is not None)
    return a, b


def test_generator_reproduces_the_committed_files_byte_for_byte() -> None:
    train, evals = generate_rows()
    assert to_jsonl(train) == (EXAMPLE_DIR / "train.jsonl").read_text(encoding="utf-8")
    assert to_jsonl(evals) == (EXAMPLE_DIR / "eval.jsonl").read_text(encoding="utf-8")


def test_every_ordered_pair_appears_once_with_the_right_sum() -> None:
    train, evals = generate_rows()
    assert (len(train), len(evals)) == (7901, 199)
    seen = [operands(r["prompt"]) for r in train + evals]
    assert sorted(seen) == [(a, b) for a in range(10, 100) for b in range(10, 100)]
    for r in train + evals:
        a, b = operands(r["prompt"])
        assert r["expected"] == str(a + b)


def test_held_out_pairs_never_appear_in_training_in_either_order() -> None:
    train, evals = generate_rows()
    held = {frozenset(operands(r["prompt"])) for r in evals}
    assert len(held) == 100
    assert not any(frozenset(operands(r["prompt"])) in held for r in train)


def test_eval_rows_name_their_scorer() -> None:
    _, evals = generate_rows()
    assert {r["scorer"] for r in evals} == {"exact_match"}
    assert all(json.loads(json.dumps(r)) == r for r in evals)
