#!/usr/bin/env bash
# The main job: install what is needed, run the smoke scale of Graesser et al. 2022's classic
# control design (DQN on CartPole: dense, parameter-matched dense, Prune, Static, SET, RigL
# with ERK and uniform at 90%), then write its report (about 10 minutes on 2 CPU cores).
#   bash scripts/main.sh [OUT_DIR]      (default runs/graesser2022-classic-smoke; re-running
#                                        resumes and skips finished runs)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
out="${1:-runs/graesser2022-classic-smoke}"
.venv/bin/sparserl sweep graesser2022-classic --scale smoke --out "$out"
.venv/bin/sparserl report "$out"
