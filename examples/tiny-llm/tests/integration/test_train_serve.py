"""Train a few steps with the real scripts, serve the model, and answer one request over HTTP."""
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from tiny_llm import EXAMPLE_DIR

STEPS = 20


def run_json_lines(args: list[str], timeout: float) -> list[dict[str, object]]:
    done = subprocess.run([sys.executable, *args], cwd=EXAMPLE_DIR, capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_train_then_serve_answers_a_chat_completion(tmp_path: Path) -> None:
    events = run_json_lines(["train.py", "--steps", str(STEPS), "--checkpoint-every", "10",
                             "--out", str(tmp_path)], timeout=240)
    kinds = [e["type"] for e in events]
    assert kinds == ["progress", "checkpoint", "progress", "artifact"]
    artifact = events[-1]
    model = Path(str(artifact["path"]))
    assert model == tmp_path / "model.pt" and model.is_file()
    assert isinstance(artifact["metrics"], dict) and artifact["metrics"]["steps"] == STEPS

    server = subprocess.Popen([sys.executable, "serve.py", "--model", str(model), "--port", "0"],
                              cwd=EXAMPLE_DIR, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        ready = json.loads(server.stdout.readline())  # the first line, once the socket listens
        assert ready["type"] == "ready"
        url = f"http://127.0.0.1:{ready['port']}/v1/chat/completions"
        body = json.dumps({"messages": [{"role": "user", "content": "What is 23+45?"}], "max_tokens": 4}).encode()
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as r:
            assert r.status == 200
            answer = json.load(r)
        choice = answer["choices"][0]
        assert answer["object"] == "chat.completion" and answer["model"] == "tiny-llm"
        assert choice["message"]["role"] == "assistant" and choice["message"]["content"].strip()
        assert choice["finish_reason"] in ("stop", "length")
    finally:
        server.terminate()
        try:
            code = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            code = server.wait()
    assert code == 0  # serve.py exits 0 on SIGTERM
