#!/usr/bin/env bash
# Install what is needed (scripts/bootstrap.sh), lint, and run the test suite.
# Extra arguments go to pytest (e.g. `-m slow` for the longer learning tests).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/python -m pytest "$@"
