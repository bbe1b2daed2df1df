"""Serves a stored model as a cluster job: a variant's evaluation server on a Ray or Slurm node.

    python -m slipway_job.serve [--health-path /health] [--startup-timeout 120] -- <command>

Fetches SLIPWAY_MODEL_URI (file:// or mlflow-artifacts:/, checked against SLIPWAY_MODEL_SHA256),
starts <command> with {model} replaced by the local file and {port} by a free port on this node,
and once the server answers the health path prints one event line,
{"type": "serving", "url": "http://<host>:<port>"}, where <host> is SLIPWAY_SERVE_HOST or this
node's address. Then it runs until the server exits (its exit code is the job's) or the job is
stopped (SIGTERM and SIGINT are passed on to the server).
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from slipway_job import emit, fetch


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return int(s.getsockname()[1])


def _node_address() -> str:
    # The address other hosts reach this node by: the interface the default route leaves from.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            return str(s.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as res:
            return bool(200 <= res.status < 300)
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m slipway_job.serve", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--health-path", default="/health")
    parser.add_argument("--startup-timeout", type=float, default=120.0, help="seconds the server may take to answer its health path")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the serve command, after --; {model} and {port} are replaced")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no serve command given after --")
    uri = os.environ.get("SLIPWAY_MODEL_URI")
    if not uri:
        parser.error("SLIPWAY_MODEL_URI is not set: the stored model to serve")
    model = fetch(uri, os.environ.get("SLIPWAY_OUTPUT_DIR") or tempfile.mkdtemp(prefix="slipway-serve-"), os.environ.get("SLIPWAY_MODEL_SHA256"))
    port = _free_port()
    argv_ = [a.replace("{model}", model).replace("{port}", str(port)) for a in command]
    print(f"[slipway] serving {uri} on port {port}: {' '.join(argv_)}", flush=True)
    server = subprocess.Popen(argv_)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: server.send_signal(signum))
    deadline = time.monotonic() + args.startup_timeout
    while not _healthy(f"http://127.0.0.1:{port}{args.health_path}"):
        if server.poll() is not None:
            print(f"[slipway] the server exited with code {server.returncode} before it was healthy", flush=True)
            return server.returncode or 1
        if time.monotonic() > deadline:
            print(f"[slipway] the server did not answer {args.health_path} within {args.startup_timeout:g}s", flush=True)
            server.terminate()
            server.wait()
            return 1
        time.sleep(0.05)
    host = os.environ.get("SLIPWAY_SERVE_HOST") or _node_address()
    emit({"type": "serving", "url": f"http://{host}:{port}"})
    return server.wait()


if __name__ == "__main__":
    sys.exit(main())
