"""Byte-level decoder-only transformer shared by training, serving and evaluation.

Tokens 0..255 are raw UTF-8 bytes, so any prompt (including Chinese) can be
encoded without a tokenizer file. Three special tokens frame a sample:
    BOS <prompt bytes> SEP <answer bytes> EOS
"""
import os
from collections.abc import Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F

BOS, SEP, EOS = 256, 257, 258
VOCAB_SIZE = 259
BLOCK_SIZE = 64  # max context; longer contexts are cropped to the last 64 tokens

SIZES: dict[str, dict[str, int]] = {
    "tiny": dict(n_layer=2, n_embd=64, n_head=4),
    "small": dict(n_layer=3, n_embd=128, n_head=4),
}


def default_threads() -> int:
    """Torch CPU threads. On small shared machines multi-threaded torch collapses
    when other processes compete for the cores (measured 10x slower per step with
    2 threads on a loaded 2-core box, vs 2x faster when idle), so leave half the
    cores to the rest of the pipeline. Override with SLIPWAY_TORCH_THREADS."""
    env = os.environ.get("SLIPWAY_TORCH_THREADS")
    if env:
        return max(1, int(env))
    return max(1, min((os.cpu_count() or 1) // 2, 8))


def encode_prompt(text: str) -> list[int]:
    return [BOS] + list(text.encode("utf-8")) + [SEP]


class Block(nn.Module):
    def __init__(self, n_embd: int, n_head: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.ln1 = nn.LayerNorm(n_embd)
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.ln2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, c))
        return x + self.mlp(self.ln2(x))


class TinyGPT(nn.Module):
    def __init__(self, n_layer: int, n_embd: int, n_head: int) -> None:
        super().__init__()
        self.config = dict(n_layer=n_layer, n_embd=n_embd, n_head=n_head)
        self.tok = nn.Embedding(VOCAB_SIZE, n_embd)
        self.pos = nn.Embedding(BLOCK_SIZE, n_embd)
        self.blocks = nn.ModuleList(Block(n_embd, n_head) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, VOCAB_SIZE, bias=False)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = self.tok(idx) + self.pos(pos)
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln_f(x))


def load_model(path: str, device: str = "cpu") -> TinyGPT:
    """Load either a final model.pt or a training checkpoint (both carry config + model)."""
    state = torch.load(path, map_location=device, weights_only=True)
    model = TinyGPT(**state["config"]).to(device)
    model.load_state_dict(state["model"])
    model.eval()
    return model


def generate(
    model: TinyGPT,
    prompt: str,
    max_tokens: int = 16,
    temperature: float = 0.0,
    seed: int | None = None,
    device: str = "cpu",
) -> tuple[bytes, str, int]:
    """Return (answer_bytes, finish_reason, prompt_token_count)."""
    out = bytes(generate_tokens(model, prompt, max_tokens, temperature, seed, device))
    return out, finish_reason(out, max_tokens), len(encode_prompt(prompt))


def finish_reason(answer: bytes, max_tokens: int) -> str:
    """"stop" when the model ended the answer, "length" when max_tokens cut it."""
    return "stop" if len(answer) < max_tokens else "length"


@torch.no_grad()
def generate_tokens(
    model: TinyGPT,
    prompt: str,
    max_tokens: int = 16,
    temperature: float = 0.0,
    seed: int | None = None,
    device: str = "cpu",
) -> Iterator[int]:
    """The answer's byte tokens one at a time, as they are made (streamed answers use it).

    The end token and whitespace/control bytes are forbidden at the first
    position (a min_tokens=1 rule) so every answer is visibly non-empty,
    even for prompts far outside the training distribution.
    """
    ids = encode_prompt(prompt)
    gen = torch.Generator(device="cpu")
    if seed is not None:
        gen.manual_seed(int(seed))
    else:
        gen.seed()
    for i in range(max_tokens):
        ctx = torch.tensor([ids[-BLOCK_SIZE:]], device=device)
        logits = model(ctx)[0, -1].float().cpu()
        logits[BOS] = logits[SEP] = float("-inf")  # never valid outputs
        if i == 0:
            logits[EOS] = float("-inf")
            logits[:0x21] = float("-inf")
            logits[0x7F] = float("-inf")
        if temperature <= 0:
            nxt = int(torch.argmax(logits))
        else:
            probs = torch.softmax(logits / temperature, dim=-1)
            nxt = int(torch.multinomial(probs, 1, generator=gen))
        if nxt == EOS:
            return
        ids.append(nxt)
        yield nxt
