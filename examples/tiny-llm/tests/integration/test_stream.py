"""A streamed answer (`"stream": true`) is the unstreamed answer, sent token by token as server-sent events."""
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import torch

from tiny_llm import EXAMPLE_DIR
from tiny_llm.model import SIZES, TinyGPT


def post(url: str, body: dict[str, object]) -> tuple[str, bytes]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as r:
        assert r.status == 200
        return r.headers["Content-Type"], r.read()


def test_a_streamed_answer_is_the_same_answer_in_token_chunks(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = TinyGPT(**SIZES["tiny"]).eval()  # untrained: its answer is noise, but a deterministic one
    checkpoint = tmp_path / "model.pt"
    torch.save({"model": model.state_dict(), "config": model.config}, checkpoint)
    server = subprocess.Popen([sys.executable, "serve.py", "--model", str(checkpoint), "--port", "0"],
                              cwd=EXAMPLE_DIR, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        ready = json.loads(server.stdout.readline())
        url = f"http://127.0.0.1:{ready['port']}/v1/chat/completions"
        ask = {"messages": [{"role": "user", "content": "What is 23+45?"}], "max_tokens": 6, "temperature": 0}
        _, plain = post(url, ask)
        whole = json.loads(plain)["choices"][0]

        ctype, streamed = post(url, {**ask, "stream": True})
        assert ctype == "text/event-stream"
        data = [line[len("data: "):] for line in streamed.decode().split("\n\n") if line.startswith("data: ")]
        assert data[-1] == "[DONE]"
        chunks = [json.loads(d) for d in data[:-1]]
        assert all(c["object"] == "chat.completion.chunk" for c in chunks)
        assert chunks[0]["choices"][0]["delta"] == {"role": "assistant"}
        pieces = [c["choices"][0]["delta"]["content"] for c in chunks[1:-1]]
        assert len(pieces) >= 2  # one chunk per token, not the answer in one piece
        assert "".join(pieces) == whole["message"]["content"]
        assert chunks[-1]["choices"][0]["finish_reason"] == whole["finish_reason"]
        assert chunks[-1]["usage"] == json.loads(plain)["usage"]

        # A bad `stream` value is refused like any other bad field, and the server keeps serving.
        bad = urllib.request.Request(url, data=json.dumps({**ask, "stream": "yes"}).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(bad, timeout=60)
            raise AssertionError("expected HTTP 400")
        except urllib.error.HTTPError as e:
            assert e.code == 400 and "'stream' must be a boolean" in e.read().decode()
        assert json.loads(post(url, ask)[1])["choices"] == json.loads(plain)["choices"]
    finally:
        server.terminate()
        server.wait(timeout=30)
