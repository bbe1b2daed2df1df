"""Exact-match accuracy on eval.jsonl (`python evaluate.py --help`); the code is src/tiny_llm/evaluate.py."""
import sys
from pathlib import Path

# Not an installed package: the pipeline and check.sh run this file directly from the example's folder.
sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from tiny_llm.evaluate import main

if __name__ == "__main__":
    main()
