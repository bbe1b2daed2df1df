#!/usr/bin/env bash
# Debian packages for the parts of the stack that PyPI does not carry: a single-node Slurm cluster
# (slurmctld, slurmd, slurmrestd, munge), Prometheus, and Chromium (the browser test drives the
# Temporal UI in it). Installed with apt when missing and we are root (CI is); otherwise says what
# to install and goes on: only the tests that need them fail.
set -euo pipefail
# command the package provides -> Debian package
declare -A wanted=(
  [slurmctld]=slurmctld [slurmd]=slurmd [sbatch]=slurm-client [slurmrestd]=slurmrestd
  [munged]=munge [prometheus]=prometheus [chromium]=chromium
  # Signed approvals: `slipway approve --key` and the tests sign with ssh-keygen -Y sign.
  [ssh-keygen]=openssh-client
)
missing=()
for cmd in "${!wanted[@]}"; do
  command -v "$cmd" >/dev/null || [ -x "/usr/sbin/$cmd" ] || missing+=("${wanted[$cmd]}")
done
[ ${#missing[@]} -eq 0 ] && { echo "setup: system packages present"; exit 0; }
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "setup: missing system packages: ${missing[*]}. On Debian/Ubuntu: sudo apt-get install ${missing[*]}" >&2
  echo "setup: going on without them; the Slurm and Prometheus tests will fail until they are installed" >&2
  exit 0
fi
echo "setup: installing system packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: system packages installed"
