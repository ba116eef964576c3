"""The one grid expansion: the runs of a TrainSpec (sparsity levels x swept values x seeds,
seed fastest) and their directory names. Training and sweeps (planned runs, resume) both
read it, so they cannot disagree on which runs a group has or what they are called."""

from __future__ import annotations

import itertools
import re
from typing import Any

GridPoint = dict[str, Any]  # {"sparsity": level or None, <swept name>: value, ..., "seed": int}


def grid_points(spec: Any) -> list[GridPoint]:
    """Every run of `spec` (a TrainSpec) in the order its program runs them: sparsity level,
    then swept values, then seed (fastest)."""
    names = list(spec.sweep)
    combos = list(itertools.product(*(spec.sweep[n] for n in names)))
    return [
        {"sparsity": level, **dict(zip(names, combo, strict=True)), "seed": seed}
        for level in spec.sparsities or (None,)
        for combo in combos
        for seed in range(spec.seeds)
    ]


def run_id(spec: Any, point: GridPoint) -> str:
    """A readable, unique directory name for one run of the grid ("ALE/Pong-v5" becomes
    "ALE-Pong-v5": one directory, not two)."""
    parts = [spec.agent, spec.env, spec.method]
    if point["sparsity"] is not None:
        parts.append(f"sparsity{point['sparsity']:g}")
    parts += [f"{name}{point[name]:g}" for name in spec.sweep]
    parts.append(f"seed{point['seed']}")
    return filesystem_safe("_".join(parts))


def filesystem_safe(name: str) -> str:
    """`name` with every character but letters, digits and `._=+-` replaced by `-`."""
    return re.sub(r"[^A-Za-z0-9._=+-]", "-", name)
