"""Long table of final scores -> rliable's input: one [runs, tasks] score matrix per group."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sparserl.stats.normalize import check_columns


def group_label(key: tuple) -> str:
    """A group's label: its values joined by spaces, numbers as %g, missing ones left out
    (("dense", NaN) -> "dense", ("rigl", 0.9) -> "rigl 0.9")."""
    parts = []
    for value in key:
        if pd.isna(value):
            continue
        parts.append(f"{value:g}" if isinstance(value, float) else str(value))
    return " ".join(parts)


def score_matrices(
    df: pd.DataFrame, group_by: str | Sequence[str] = ("method", "sparsity")
) -> dict[str, np.ndarray]:
    """{group label: [runs, tasks] scores}: runs are the group's seeds (sorted per env), tasks are
    all envs of `df` in sorted order. Every group needs the same number of seeds on every env,
    since rliable takes rectangular matrices; ragged groups raise rather than being trimmed."""
    keys = [group_by] if isinstance(group_by, str) else list(group_by)
    check_columns(df, (*keys, "env", "seed", "score"))
    if df.empty:
        raise ValueError("score table has no rows")
    envs = sorted(df["env"].unique())
    matrices: dict[str, np.ndarray] = {}
    for key, rows in df.groupby(keys, dropna=False, sort=True):
        label = group_label(key)
        if label in matrices:
            raise ValueError(f"two groups share the label {label!r}; group by other columns")
        repeated = rows[rows.duplicated(["env", "seed"])]
        if len(repeated):
            pairs = list(zip(repeated["env"], repeated["seed"], strict=True))
            raise ValueError(f"group {label!r} repeats (env, seed) {pairs}")
        seeds = rows.groupby("env")["seed"].count().reindex(envs, fill_value=0)
        if (seeds == 0).any():
            raise ValueError(
                f"group {label!r} has no runs on env(s) {list(seeds.index[seeds == 0])}; "
                f"every group needs every env of the table ({envs})"
            )
        if seeds.nunique() > 1:
            raise ValueError(
                f"group {label!r} has different numbers of seeds per env {seeds.to_dict()}; "
                "rliable needs the same number of runs on every task"
            )
        columns = [rows[rows["env"] == env].sort_values("seed")["score"] for env in envs]
        matrices[label] = np.stack([c.to_numpy(float) for c in columns], axis=1)
    return matrices
