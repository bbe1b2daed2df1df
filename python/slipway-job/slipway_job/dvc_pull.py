"""Runs `dvc pull` for a job's DVC-tracked inputs on the host the job runs on, then becomes the job.

    python dvc_pull.py <target>... -- <command>...

The worker starts a training job with DVC-tracked `train.data` through this wrapper, so the bytes come
from the DVC remote to the job's own host (a Ray node, a Slurm node), never through the worker. It
needs only Python and DVC there (not the slipway_job package): the worker passes this file's text with
`python -c`. DVC is looked for beside this Python first, then on PATH.

On stdout, one job-protocol line says what happened, then the job's own output follows:
  {"type":"dvc_pulled","targets":[...],"host":"...","cwd":"...","pid":N}   then exec of the command
  {"type":"dvc_pull_failed","targets":[...],"host":"...","message":"..."}  then exit 66
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

PULL_FAILED_EXIT = 66  # EX_NOINPUT: the job's input could not be had


def _emit(event: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def _dvc() -> list[str]:
    beside = os.path.join(os.path.dirname(sys.executable), "dvc")
    if os.access(beside, os.X_OK):
        return [beside]
    found = shutil.which("dvc")
    return [found] if found else [sys.executable, "-m", "dvc"]


def main(argv: list[str]) -> None:
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        sys.stderr.write("dvc_pull: usage: dvc_pull.py <target>... -- <command>...\n")
        sys.exit(2)
    split = argv.index("--")
    targets, command = argv[:split], argv[split + 1:]
    host = socket.gethostname()
    if targets:
        sys.stderr.write(f"[slipway] dvc pull {' '.join(targets)} on {host} in {os.getcwd()}\n")
        sys.stderr.flush()
        env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
        res = subprocess.run([*_dvc(), "pull", "--quiet", *targets], check=False, env=env, capture_output=True, text=True)
        if res.returncode != 0:
            words = (res.stderr or res.stdout).strip().splitlines()[-5:]
            message = f"dvc pull {' '.join(targets)} failed on {host} (exit {res.returncode}): " + "\n".join(words)
            sys.stderr.write(message + "\n")
            _emit({"type": "dvc_pull_failed", "targets": targets, "host": host, "message": message})
            sys.exit(PULL_FAILED_EXIT)
        _emit({"type": "dvc_pulled", "targets": targets, "host": host, "cwd": os.getcwd(), "pid": os.getpid()})
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
