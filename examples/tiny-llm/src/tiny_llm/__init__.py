"""tiny-llm: a byte-level transformer that learns 2-digit addition, small enough for a CPU release pipeline."""
from pathlib import Path

# The example's folder (two levels above this package): where train.jsonl and eval.jsonl live.
EXAMPLE_DIR = Path(__file__).resolve().parents[2]
