"""Train the tiny byte-level transformer on train.jsonl (2-digit addition).

stdout carries the Slipway job protocol, one JSON object per line, written by the slipway_job helper
(python/slipway-job in the Slipway repo):
  {"type":"resumed","step":S}                       (first, only when resuming)
  {"type":"progress","step":S,"total_steps":N,"loss":L}
  {"type":"checkpoint","step":S,"path":"/abs/ckpt-000200.pt"[,"uri":...,"sha256":...]}
  {"type":"artifact","path":"/abs/model.pt","metrics":{...}[,"uri":...,"sha256":...]}   (once, at the end)
When the worker hands the job an artifact store, the helper stores checkpoints and the model there and
reports their URIs, so the same script runs on the worker's host, a Ray cluster or a Slurm node; a
SLIPWAY_RESUME_FROM URI is fetched before resuming. Anything else goes to stderr.
"""
import argparse
import json
import math
import os
import sys
import time
from typing import Any, NoReturn

import slipway_job
import torch
import torch.nn.functional as F

from tiny_llm import EXAMPLE_DIR
from tiny_llm.model import BLOCK_SIZE, EOS, SIZES, TinyGPT, default_threads, encode_prompt

DEFAULT_STEPS = 1200


def fail(msg: str) -> NoReturn:
    print(f"train.py: error: {msg}", file=sys.stderr, flush=True)
    sys.exit(2)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=None,
                   help=f"total steps (default {DEFAULT_STEPS}, or the checkpoint's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", choices=sorted(SIZES), default="tiny")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--checkpoint-every", type=int, default=250, help="0 disables intermediate checkpoints")
    p.add_argument("--data", default=str(EXAMPLE_DIR / "train.jsonl"))
    p.add_argument("--out", default=os.environ.get("SLIPWAY_OUTPUT_DIR") or "./out")
    p.add_argument("--resume-from", default=None,
                   help="checkpoint to resume from (default: SLIPWAY_RESUME_FROM, fetched if a URI)")
    a = p.parse_args(argv)
    if a.resume_from is None:
        a.resume_from = slipway_job.resume_from()
    if a.steps is not None and a.steps <= 0:
        fail("--steps must be positive")
    if a.batch_size <= 0 or a.lr <= 0 or a.checkpoint_every < 0:
        fail("--batch-size and --lr must be positive, --checkpoint-every >= 0")
    return a


def load_data(path: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokenise every row once: inputs padded with EOS, loss only on answer+EOS."""
    if not os.path.isfile(path):
        fail(f"training data not found: {path}")
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    seqs: list[tuple[list[int], int]] = []
    for r in rows:
        p = encode_prompt(r["prompt"])
        seqs.append((p + list(r["expected"].encode("utf-8")) + [EOS], len(p)))
    width = max(len(s) for s, _ in seqs)
    if width > BLOCK_SIZE + 1:
        fail(f"a training row is longer than the context ({BLOCK_SIZE})")
    x = torch.full((len(seqs), width - 1), EOS, dtype=torch.long)
    y = torch.full((len(seqs), width - 1), -100, dtype=torch.long)  # -100 = ignored
    for i, (s, n_prompt) in enumerate(seqs):
        t = torch.tensor(s)
        x[i, : len(s) - 1] = t[:-1]
        y[i, n_prompt - 1 : len(s) - 1] = t[n_prompt:]
    return x, y


def lr_at(step: int, total: int, base: float) -> float:
    # Short linear warmup then cosine decay to 10%: a pure function of step,
    # so a resumed run follows exactly the same schedule.
    warm = max(1, min(50, total // 10))
    if step < warm:
        return base * (step + 1) / warm
    frac = (step - warm) / max(1, total - warm)
    return base * (0.1 + 0.45 * (1 + math.cos(math.pi * frac)))


def save_atomic(obj: dict[str, Any], path: str) -> None:
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)  # readers never see a half-written file


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(default_threads())
    device = "cuda" if torch.cuda.is_available() else "cpu"

    ckpt = None
    if args.resume_from:
        if not os.path.isfile(args.resume_from):
            fail(f"resume checkpoint not found: {args.resume_from}")
        try:
            ckpt = torch.load(args.resume_from, map_location="cpu", weights_only=True)
        except Exception as e:  # any unreadable file is bad input
            fail(f"cannot read resume checkpoint {args.resume_from}: not a valid checkpoint ({type(e).__name__})")
        missing = [k for k in ("model", "optimizer", "step", "args", "sampler_rng", "torch_rng") if k not in ckpt]
        if missing:
            fail(f"{args.resume_from} is not a training checkpoint (missing {', '.join(missing)}); "
                 "model.pt holds weights only, resume from a ckpt-*.pt file")
        # Hyper-parameters come from the checkpoint so the resumed run is the same run.
        for k in ("seed", "size", "batch_size", "lr"):
            setattr(args, k, ckpt["args"][k])
        if args.steps is None:
            args.steps = ckpt["args"]["steps"]
    steps = args.steps or DEFAULT_STEPS

    torch.manual_seed(args.seed)
    x_all, y_all = load_data(args.data)
    model = TinyGPT(**SIZES[args.size]).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    sampler = torch.Generator().manual_seed(args.seed)  # drives batch order only
    start = 0
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sampler.set_state(ckpt["sampler_rng"])
        torch.set_rng_state(ckpt["torch_rng"])
        start = ckpt["step"]
        slipway_job.resumed(start)
    if start >= steps:
        fail(f"checkpoint is at step {start}, nothing left to do for --steps {steps}")

    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    run_args = dict(seed=args.seed, size=args.size, batch_size=args.batch_size, lr=args.lr, steps=steps)
    print(f"device={device} threads={torch.get_num_threads()} rows={len(x_all)} "
          f"params={sum(p.numel() for p in model.parameters())} args={run_args}", file=sys.stderr, flush=True)

    t0 = time.time()
    loss_ema: float | None = None
    model.train()
    for step in range(start, steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, args.lr)
        idx = torch.randint(len(x_all), (args.batch_size,), generator=sampler)
        x, y = x_all[idx].to(device), y_all[idx].to(device)
        loss = F.cross_entropy(model(x).view(-1, model.head.out_features), y.view(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        lv = loss.item()
        loss_ema = lv if loss_ema is None else 0.9 * loss_ema + 0.1 * lv
        done = step + 1
        if done % 10 == 0 or done == steps:
            slipway_job.progress(done, total_steps=steps, loss=round(lv, 4))
        if args.checkpoint_every and done % args.checkpoint_every == 0 and done < steps:
            path = os.path.join(out, f"ckpt-{done:06d}.pt")
            save_atomic(dict(model=model.state_dict(), optimizer=opt.state_dict(), step=done,
                             config=model.config, args=run_args, sampler_rng=sampler.get_state(),
                             torch_rng=torch.get_rng_state()), path)
            slipway_job.checkpoint(path, done)

    train_seconds = time.time() - t0
    assert loss_ema is not None  # the loop ran at least once: start < steps was checked above
    path = os.path.join(out, "model.pt")
    save_atomic(dict(model=model.state_dict(), config=model.config, args=run_args, step=steps), path)
    slipway_job.artifact(path, metrics=dict(
        final_loss=round(loss_ema, 4), train_seconds=round(train_seconds, 2),
        steps=steps, resumed_from_step=start, size_bytes=os.path.getsize(path)))


if __name__ == "__main__":
    main()
