"""The byte tokenizer: prompts frame as BOS bytes SEP, and training rows mask the prompt out of the loss."""
import json
from pathlib import Path

import torch

from tiny_llm.model import BOS, EOS, SEP, VOCAB_SIZE, encode_prompt
from tiny_llm.train import load_data


def test_prompt_is_framed_by_bos_and_sep() -> None:
    assert encode_prompt("1+2=") == [BOS, *b"1+2=", SEP]


def test_any_text_encodes_as_utf8_bytes_within_the_vocabulary() -> None:
    ids = encode_prompt("什么是机器学习?")
    assert ids[1:-1] == list("什么是机器学习?".encode())
    assert all(0 <= i < VOCAB_SIZE for i in ids)
    assert encode_prompt("") == [BOS, SEP]


def test_training_rows_learn_only_the_answer_and_its_end(tmp_path: Path) -> None:
    data = tmp_path / "rows.jsonl"
    rows = [{"prompt": "What is 10+20?", "expected": "30"}, {"prompt": "1+1=", "expected": "2"}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    x, y = load_data(str(data))
    first = encode_prompt("What is 10+20?") + [*b"30", EOS]
    assert x.shape == y.shape == (2, len(first) - 1)
    assert x[0].tolist() == first[:-1]
    n_prompt = len(encode_prompt("What is 10+20?"))
    assert y[0, : n_prompt - 1].tolist() == [-100] * (n_prompt - 1)  # no loss on the prompt
    assert y[0, n_prompt - 1 :].tolist() == [*b"30", EOS]
    # The shorter row is padded with EOS inputs and ignored labels.
    short = encode_prompt("1+1=") + [*b"2", EOS]
    assert x[1, len(short) - 1 :].eq(EOS).all()
    assert y[1, len(short) - 1 :].eq(-100).all()
    assert y.dtype == torch.long
