"""OpenAI-compatible HTTP server for a tiny-llm checkpoint (stdlib + torch only).

  python serve.py --model out/model.pt --port 8000 [--host 127.0.0.1] [--model-name NAME]
Endpoints: POST /v1/chat/completions (`"stream": true` answers with server-sent events, one
chunk per token, as vLLM does), GET /v1/models, GET /health, GET /metrics.
Fault injection for failure tests: SLIPWAY_FAULT_ERROR_RATE (0..1), SLIPWAY_FAULT_DELAY_MS.
Prints {"type":"ready","port":P} on stdout once listening (port 0 picks a free one).
"""
import argparse
import codecs
import json
import os
import random
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any, TypeVar

import torch

from tiny_llm.metrics import Metrics
from tiny_llm.model import TinyGPT, default_threads, encode_prompt, finish_reason, generate, generate_tokens, load_model

MAX_TOKENS_LIMIT = 4096
N = TypeVar("N", int, float)


@dataclass
class App:
    """What every request handler shares: the model, its name, metrics and the fault settings."""

    model: TinyGPT
    name: str
    error_rate: float = 0.0
    delay_ms: float = 0.0
    created: int = field(default_factory=lambda: int(time.time()))
    lock: threading.Lock = field(default_factory=threading.Lock)
    metrics: Metrics = field(default_factory=Metrics)


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: App) -> None:
        super().__init__(address, Handler)
        self.app = app


class BadRequest(Exception):
    pass


def last_user_text(body: dict[str, Any]) -> str:
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise BadRequest("'messages' must be a non-empty array")
    for m in reversed(msgs):
        if isinstance(m, dict) and m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, list):  # content parts: keep the text ones
                c = "".join(p.get("text", "") for p in c if isinstance(p, dict))
            if not isinstance(c, str):
                raise BadRequest("user message 'content' must be a string or text parts")
            return c
    raise BadRequest("'messages' contains no user message")


def number(body: dict[str, Any], key: str, default: Any, lo: float, hi: float, cast: type[N]) -> N:
    v = body.get(key, default)
    if v is None:
        v = default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
        raise BadRequest(f"'{key}' must be a number in [{lo}, {hi}]")
    return cast(v)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tiny-llm/1.0"
    server: ModelServer

    def log_message(self, format: str, *args: Any) -> None:  # stdout is reserved for the JSON protocol
        sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    def read_body(self) -> bytes:
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise BadRequest("invalid Content-Length header") from None
        return self.rfile.read(n) if n > 0 else b""

    def send_json(self, status: int, obj: Any, ctype: str = "application/json") -> None:
        data = (obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        # Set by Slipway's local deploy target: answers through Traefik name the version that served them.
        version = os.environ.get("SLIPWAY_VERSION")
        if version:
            self.send_header("x-slipway-version", version)
        self.end_headers()
        self.wfile.write(data)

    def send_error_json(self, status: int, message: str, etype: str = "invalid_request_error") -> None:
        self.send_json(status, {"error": {"message": message, "type": etype, "param": None, "code": None}})

    def do_GET(self) -> None:
        app = self.server.app
        path = self.path.split("?", 1)[0]
        if path == "/health":
            self.send_json(200, {"status": "ok"})
        elif path == "/v1/models":
            self.send_json(200, {"object": "list", "data": [
                {"id": app.name, "object": "model", "created": app.created, "owned_by": "slipway"}]})
        elif path == "/metrics":
            self.send_json(200, app.metrics.render(), "text/plain; version=0.0.4; charset=utf-8")
        else:
            self.send_error_json(404, f"no route for GET {path}", "not_found_error")

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != "/v1/chat/completions":
            try:
                self.read_body()  # drain, so a keep-alive connection stays in sync
            except BadRequest:
                self.close_connection = True
            return self.send_error_json(404, f"no route for POST {self.path}", "not_found_error")
        app, t0 = self.server.app, time.time()
        status = 200
        try:
            raw = self.read_body()
            if app.delay_ms > 0:
                time.sleep(app.delay_ms / 1000.0)
            if app.error_rate > 0 and random.random() < app.error_rate:
                status = 500
                return self.send_error_json(500, "injected fault (SLIPWAY_FAULT_ERROR_RATE)", "server_error")
            try:
                body = json.loads(raw or b"null")
            except ValueError as e:
                raise BadRequest(f"request body is not valid JSON: {e}") from None
            if not isinstance(body, dict):
                raise BadRequest("request body must be a JSON object")
            prompt = last_user_text(body)
            max_tokens = number(body, "max_tokens", body.get("max_completion_tokens") or 16, 1, MAX_TOKENS_LIMIT, int)
            temperature = number(body, "temperature", 0.0, 0.0, 10.0, float)
            seed = body.get("seed")
            if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
                raise BadRequest("'seed' must be an integer")
            stream = body.get("stream", False)
            if not isinstance(stream, bool):
                raise BadRequest("'stream' must be a boolean")
            if stream:
                try:
                    return self.stream_answer(prompt, max_tokens, temperature, seed)
                except (BrokenPipeError, ConnectionResetError):  # the client left mid-answer
                    self.close_connection = True
                    return
            with app.lock:  # one generation at a time: 2 cores gain nothing from more
                out, finish, n_prompt = generate(app.model, prompt, max_tokens, temperature, seed)
            self.send_json(200, {
                "id": "chatcmpl-" + uuid.uuid4().hex[:24], "object": "chat.completion",
                "created": int(time.time()), "model": app.name,
                "choices": [{"index": 0, "message": {"role": "assistant",
                                                     "content": out.decode("utf-8", errors="replace")},
                             "finish_reason": finish}],
                "usage": {"prompt_tokens": n_prompt, "completion_tokens": len(out) + (finish == "stop"),
                          "total_tokens": n_prompt + len(out) + (finish == "stop")}})
        except BadRequest as e:
            status = 400
            self.send_error_json(400, str(e))
        except Exception as e:  # report, keep serving
            status = 500
            self.send_error_json(500, f"internal error: {e}", "server_error")
        finally:
            app.metrics.observe(str(status), time.time() - t0)


    def stream_answer(self, prompt: str, max_tokens: int, temperature: float, seed: int | None) -> None:
        """Server-sent events over chunked transfer: a role chunk, a chunk per token as it is made, a
        finish chunk with usage, then `data: [DONE]`. Bytes that end mid-character wait for the rest."""
        app = self.server.app
        ident, created = "chatcmpl-" + uuid.uuid4().hex[:24], int(time.time())
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def event(payload: object) -> None:
            text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
            data = f"data: {text}\n\n".encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def chunk(delta: dict[str, str], finish: str | None = None, **extra: object) -> dict[str, object]:
            return {"id": ident, "object": "chat.completion.chunk", "created": created, "model": app.name,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}

        event(chunk({"role": "assistant"}))
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        answer = bytearray()
        with app.lock:  # one generation at a time, as for unstreamed answers
            for token in generate_tokens(app.model, prompt, max_tokens, temperature, seed):
                answer.append(token)
                text = decoder.decode(bytes([token]))
                if text:
                    event(chunk({"content": text}))
        rest = decoder.decode(b"", final=True)
        if rest:
            event(chunk({"content": rest}))
        finish = finish_reason(bytes(answer), max_tokens)
        n_prompt = len(encode_prompt(prompt))
        completion = len(answer) + (finish == "stop")
        event(chunk({}, finish, usage={"prompt_tokens": n_prompt, "completion_tokens": completion,
                                       "total_tokens": n_prompt + completion}))
        event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--model-name", default="tiny-llm")
    a = p.parse_args(argv)
    t0 = time.time()
    state: dict[str, ModelServer] = {}

    def stop(signum: int, _frame: FrameType | None) -> None:
        print(f"serve.py: signal {signum}, shutting down", file=sys.stderr, flush=True)
        if "server" not in state:  # still loading: nothing to drain
            sys.exit(0)
        # shutdown() blocks until serve_forever returns, so it must run off the main thread.
        threading.Thread(target=state["server"].shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if not os.path.isfile(a.model):
        print(f"serve.py: error: model file not found: {a.model}", file=sys.stderr)
        sys.exit(2)
    try:
        error_rate = float(os.environ.get("SLIPWAY_FAULT_ERROR_RATE") or 0)
        delay_ms = float(os.environ.get("SLIPWAY_FAULT_DELAY_MS") or 0)
    except ValueError:
        print("serve.py: error: SLIPWAY_FAULT_* must be numbers", file=sys.stderr)
        sys.exit(2)
    torch.set_num_threads(default_threads())
    try:
        model = load_model(a.model)
    except Exception as e:  # a bad file is bad input
        print(f"serve.py: error: cannot load model {a.model}: not a valid checkpoint ({type(e).__name__})",
              file=sys.stderr)
        sys.exit(2)

    app = App(model=model, name=a.model_name, error_rate=min(max(error_rate, 0.0), 1.0), delay_ms=max(delay_ms, 0.0))
    try:
        server = ModelServer((a.host, a.port), app)
    except OSError as e:
        print(f"serve.py: error: cannot listen on {a.host}:{a.port}: {e}", file=sys.stderr)
        sys.exit(2)
    state["server"] = server

    port = server.server_address[1]
    print(json.dumps({"type": "ready", "port": port}, separators=(",", ":")), flush=True)
    print(f"serve.py: {a.model_name} on http://{a.host}:{port} (startup {time.time() - t0:.2f}s)",
          file=sys.stderr, flush=True)
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
