#!/usr/bin/env bash
# The main job: install what is needed, then show how a 90%-sparse RigL spreads its budget
# over the DQN CartPole network (per-layer densities, nonzeros, FLOPs), before any training.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
.venv/bin/sparserl inspect dqn CartPole-v1 --method rigl --sparsity 0.9 "$@"
