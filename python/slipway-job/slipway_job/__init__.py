"""The Slipway job protocol for training scripts, and uploads to the artifact store.

    from slipway_job import progress, checkpoint, artifact, resume_from, resumed

    ckpt = resume_from()                 # a local path, fetched when SLIPWAY_RESUME_FROM is a URI
    progress(step, total_steps=N, loss=L)
    checkpoint(path, step)               # stored, then reported with its uri and sha256
    artifact(path, metrics={...})        # the trained model, the same way

Each call prints one JSON line on stdout (the job protocol). When the worker gave the job an artifact
store (SLIPWAY_ARTIFACTS: a file:// folder, or mlflow-artifacts:/<path> with SLIPWAY_ARTIFACTS_URL and,
where MLflow wants one, SLIPWAY_ARTIFACTS_AUTHORIZATION), checkpoint() and artifact() first store the
file under SLIPWAY_ARTIFACT_PREFIX and report its URI, so the worker needs no disk shared with the job.
Without one they report the local path, as a plain script would.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

__all__ = ["artifact", "checkpoint", "emit", "progress", "resume_from", "resumed", "store"]

_CHUNK = 1 << 20


def emit(event: dict[str, Any]) -> None:
    """Prints one protocol event (a JSON object with a `type`) as a line on stdout."""
    sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def progress(step: int, total_steps: int | None = None, loss: float | None = None) -> None:
    event: dict[str, Any] = {"type": "progress", "step": step}
    if total_steps is not None:
        event["total_steps"] = total_steps
    if loss is not None:
        event["loss"] = loss
    emit(event)


def resumed(step: int) -> None:
    emit({"type": "resumed", "step": step})


def checkpoint(path: str, step: int) -> dict[str, Any]:
    """Stores a checkpoint file (when there is a store) and reports it; returns the event."""
    event = {"type": "checkpoint", "step": step, "path": os.path.abspath(path), **store(path, "checkpoints")}
    emit(event)
    return event


def artifact(path: str, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    """Stores the trained model (when there is a store) and reports it; returns the event."""
    event: dict[str, Any] = {"type": "artifact", "path": os.path.abspath(path), **store(path)}
    if metrics is not None:
        event["metrics"] = metrics
    emit(event)
    return event


def store(path: str, folder: str | None = None) -> dict[str, Any]:
    """Puts a file in the job's artifact store as `<prefix>/[folder/]<name>`: {uri, sha256, size}, or {} without a store."""
    base = os.environ.get("SLIPWAY_ARTIFACTS")
    if not base:
        return {}
    key = [s for s in os.environ.get("SLIPWAY_ARTIFACT_PREFIX", "").split("/") if s]
    key += [folder] if folder else []
    key.append(os.path.basename(path))
    sha256, size = _digest(path)
    if base.startswith("file://"):
        root = urllib.request.url2pathname(urllib.parse.urlparse(base).path)
        dest = os.path.join(root, *key)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), prefix=".upload-")
        with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
            shutil.copyfileobj(src, out, _CHUNK)
        os.replace(tmp, dest)  # readers never see a half-written file
        uri = "file://" + urllib.request.pathname2url(dest)
    elif base.startswith("mlflow-artifacts:"):
        segments = [s for s in base[len("mlflow-artifacts:"):].split("/") if s] + key
        quoted = "/".join(urllib.parse.quote(s, safe="") for s in segments)
        with open(path, "rb") as src:
            _request("PUT", f"{_mlflow_url()}/api/2.0/mlflow-artifacts/artifacts/{quoted}", data=src, size=size)
        uri = f"mlflow-artifacts:/{quoted}"
    else:
        raise ValueError(f"SLIPWAY_ARTIFACTS={base}: expected file://<folder> or mlflow-artifacts:/<path>")
    return {"uri": uri, "sha256": sha256, "size": size}


def resume_from() -> str | None:
    """SLIPWAY_RESUME_FROM as a local path: a URI (file://, mlflow-artifacts:/) is fetched first."""
    value = os.environ.get("SLIPWAY_RESUME_FROM") or None
    if value is None or "://" not in value and not value.startswith("mlflow-artifacts:"):
        return value
    return fetch(value, os.environ.get("SLIPWAY_OUTPUT_DIR") or tempfile.mkdtemp(prefix="slipway-resume-"), prefix="resume-")


def fetch(uri: str, out_dir: str, sha256: str | None = None, prefix: str = "") -> str:
    """A stored file (file:// or mlflow-artifacts:/ URI) as a local path; checked against `sha256` when given."""
    if uri.startswith("file://"):
        path = urllib.request.url2pathname(urllib.parse.urlparse(uri).path)
    elif uri.startswith("mlflow-artifacts:"):
        rel = uri[len("mlflow-artifacts:"):].lstrip("/")
        path = os.path.join(out_dir, prefix + os.path.basename(urllib.parse.unquote(rel)))
        with _request("GET", f"{_mlflow_url()}/api/2.0/mlflow-artifacts/artifacts/{rel}") as res, open(path + ".part", "wb") as out:
            shutil.copyfileobj(res, out, _CHUNK)
        os.replace(path + ".part", path)
    else:
        raise ValueError(f"{uri}: expected a file:// or mlflow-artifacts:/ URI")
    if sha256 is not None and _digest(path)[0] != sha256:
        raise ValueError(f"{uri}: its bytes do not hash to the sha256 recorded for it ({sha256})")
    return path


def _mlflow_url() -> str:
    url = os.environ.get("SLIPWAY_ARTIFACTS_URL")
    if not url:
        raise ValueError("SLIPWAY_ARTIFACTS_URL is not set: the MLflow server the mlflow-artifacts:/ store lives on")
    return url.rstrip("/")


def _request(method: str, url: str, data: Any = None, size: int | None = None) -> Any:
    headers = {}
    auth = os.environ.get("SLIPWAY_ARTIFACTS_AUTHORIZATION")
    if auth:
        headers["Authorization"] = auth
    if size is not None:
        headers["Content-Length"] = str(size)
        headers["Content-Type"] = "application/octet-stream"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        return urllib.request.urlopen(req, timeout=300)
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"{method} {url.split('/api/')[0]}/api/… answered {e.code}: {e.read()[:300]!r}") from None


def _digest(path: str) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size
