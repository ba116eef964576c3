#!/usr/bin/env bash
# The README's short MuJoCo run: SAC on HalfCheetah-v5 for 50k env steps, dense vs 90% RigL,
# 3 seeds each (one vectorised run per method), then the report and its learning-curve figure.
#   bash scripts/readme_halfcheetah.sh [OUT_DIR]        (about 30 min on 2 CPU cores)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/sac_halfcheetah_50k}"
common=(--seeds 3 --steps 50000 --eval-interval 2500 --out "$OUT")
.venv/bin/sparserl train sac HalfCheetah-v5 --method dense "${common[@]}"
.venv/bin/sparserl train sac HalfCheetah-v5 --method rigl --sparsity 0.9 "${common[@]}"
.venv/bin/python -m sparserl.report "$OUT" --out "$OUT/report"
cp "$OUT/report/learning_curves.png" docs/sac_halfcheetah_50k.png
