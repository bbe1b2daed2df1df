"""evaluate.py scores answers exactly as Slipway's `exact_match` scorer does, so its accuracy is the gate's."""
import json
from pathlib import Path

import pytest

from tiny_llm import EXAMPLE_DIR
from tiny_llm.evaluate import exact_match

# The same cases run through Slipway's TypeScript scorer in test/examples/tiny-llm-scorer.test.ts.
CASES = json.loads((Path(__file__).parent / "exact_match_cases.json").read_text(encoding="utf-8"))["cases"]


@pytest.mark.parametrize("case", CASES, ids=[repr(c["answer"]) + "~" + repr(c["expected"]) for c in CASES])
def test_verdicts_match_slipways_exact_match(case: dict[str, object]) -> None:
    assert exact_match(str(case["answer"]), str(case["expected"])) is case["correct"]


def test_every_eval_row_uses_the_scorer_evaluate_py_implements() -> None:
    rows = [json.loads(line) for line in (EXAMPLE_DIR / "eval.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rows and all(r.get("scorer", "exact_match") == "exact_match" for r in rows)
