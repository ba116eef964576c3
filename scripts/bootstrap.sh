#!/usr/bin/env bash
# Create .venv at the repo root and install sparserl (with its dev and ray extras: the tests
# cover the Ray backend) at the pinned versions of
# constraints.txt. Idempotent: reinstalls only when pyproject.toml or constraints.txt change.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3
if [ ! -x .venv/bin/python ]; then
  echo "[bootstrap] creating .venv with $($python --version)" >&2
  "$python" -m venv .venv
fi
stamp=.venv/.sparserl-installed
want="$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "[bootstrap] installing sparserl and its pinned dependencies into .venv" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip 2>/dev/null || true
  .venv/bin/python -m pip install --quiet -c constraints.txt -e ".[dev,ray]"
  echo "$want" > "$stamp"
fi
