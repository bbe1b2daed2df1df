"""The transformer's shapes, causality, checkpoint round trip and generation rules."""
from pathlib import Path

import pytest
import torch

from tiny_llm.model import BLOCK_SIZE, EOS, SIZES, VOCAB_SIZE, TinyGPT, encode_prompt, generate, load_model


@pytest.fixture
def model() -> TinyGPT:
    torch.manual_seed(0)
    return TinyGPT(**SIZES["tiny"]).eval()


@pytest.mark.parametrize("size", sorted(SIZES))
def test_logits_have_one_row_per_position_over_the_vocabulary(size: str) -> None:
    m = TinyGPT(**SIZES[size])
    idx = torch.randint(VOCAB_SIZE, (3, 17))
    assert m(idx).shape == (3, 17, VOCAB_SIZE)
    assert m(torch.zeros(1, BLOCK_SIZE, dtype=torch.long)).shape == (1, BLOCK_SIZE, VOCAB_SIZE)


def test_tiny_has_about_137k_parameters(model: TinyGPT) -> None:
    assert 130_000 < sum(p.numel() for p in model.parameters()) < 145_000


def test_attention_is_causal(model: TinyGPT) -> None:
    a = torch.tensor([encode_prompt("What is 12+34?")])
    b = a.clone()
    b[0, -1] = 7  # change only the last token
    with torch.no_grad():
        assert torch.allclose(model(a)[0, :-1], model(b)[0, :-1])
        assert not torch.allclose(model(a)[0, -1], model(b)[0, -1])


def test_saved_weights_load_back_identically(model: TinyGPT, tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save({"model": model.state_dict(), "config": model.config}, path)
    loaded = load_model(str(path))
    assert loaded.config == model.config
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in model.state_dict().items())
    assert not loaded.training


def test_generation_never_starts_with_end_or_whitespace(model: TinyGPT) -> None:
    # Make every position predict: EOS first, then a space, then "7" (ln_f outputs ones, so logits = row sums).
    with torch.no_grad():
        model.ln_f.weight.zero_()
        model.ln_f.bias.fill_(1.0)
        model.head.weight.zero_()
        model.head.weight[EOS] = 1.0
        model.head.weight[ord(" ")] = 0.5
        model.head.weight[ord("7")] = 0.1
    # The first token may not be EOS or whitespace, so "7"; after it EOS is allowed and wins.
    assert generate(model, "Hello", max_tokens=4) == (b"7", "stop", len(encode_prompt("Hello")))


def test_generation_stops_at_max_tokens_and_is_deterministic_when_greedy(model: TinyGPT) -> None:
    out, finish, _ = generate(model, "What is 10+20?", max_tokens=3)
    assert len(out) <= 3
    if len(out) == 3:
        assert finish == "length"
    assert generate(model, "What is 10+20?", max_tokens=3) == (out, finish, len(encode_prompt("What is 10+20?")))


def test_sampling_with_a_seed_repeats(model: TinyGPT) -> None:
    first = generate(model, "Hi", max_tokens=6, temperature=1.0, seed=42)
    assert generate(model, "Hi", max_tokens=6, temperature=1.0, seed=42) == first
