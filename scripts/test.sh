#!/usr/bin/env bash
# Install what is needed (scripts/bootstrap.sh), lint, and run the CI suite: the fast unit tests
# and the tests marked slow (the smallest learning tests among them), on two pytest-xdist
# workers (one XLA thread each, tests/conftest.py), then the tests that start a Ray runtime in
# one process of their own (Ray's shutdown takes xdist workers down with it).
# Extra arguments replace that split: they go to one pytest process and come last (a second -m
# replaces this one): `-m learning` runs the longer learning tests (about 25 minutes on 2
# cores), `-m presets` every sweep preset through sweep and report (about an hour on 2 cores).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
if [ "$#" -gt 0 ]; then
  exec .venv/bin/python -m pytest -m "not learning and not presets" "$@"
fi
.venv/bin/python -m pytest -n 2 --dist loadfile -m "not learning and not presets and not ray"
.venv/bin/python -m pytest -m "ray"
