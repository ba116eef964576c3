#!/usr/bin/env bash
# Install what is needed (scripts/bootstrap.sh), lint, and run the whole test suite: the fast
# unit tests and the learning tests (marked slow; together about 10 minutes on 2 cores).
# Extra arguments go to pytest and come last, e.g. `-m "not slow and not presets"` for the fast tests only;
# `-m presets` runs every sweep preset through sweep and report (about an hour on 2 cores).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/python -m pytest -m "not presets" "$@"
