"""Curves over seeds: a value against a position (env steps, noise level) per compared group,
the mean over seeds with a 95% percentile-bootstrap CI of that mean. Learning curves are the
evaluation return against env steps."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sparserl.stats import DEFAULT_REPS


def learning_curves(
    groups: pd.DataFrame,
    evaluations: pd.DataFrame,
    *,
    reps: int = DEFAULT_REPS,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """One row per (env, group, step) that every seed of the group evaluated: env, group,
    setting, label, sparsity, step, seeds, mean, low, high."""
    runs = groups[["run_id", "env", "group", "setting", "label", "sparsity"]]
    curves = evaluations[["run_id", "step", "eval_return"]].merge(runs, on="run_id")
    return mean_curves(
        curves,
        ["env", "group"],
        "step",
        "eval_return",
        reps=reps,
        seed=seed,
        confidence=confidence,
    )


def mean_curves(
    rows: pd.DataFrame,
    keys: Sequence[str],
    position: str,
    value: str,
    *,
    reps: int = DEFAULT_REPS,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """One row per (`keys`..., `position`) that every run (run_id) of the keys has a `value`
    at: the keys, setting, label, sparsity (of the keys' first row), `position`, seeds, mean,
    low, high. One generator seeded by `seed` draws the keys' bootstrap samples in order."""
    rng = np.random.default_rng(seed)
    tail = 100 * (1 - confidence) / 2
    frames = []
    for key, own in rows.groupby(list(keys), sort=True):
        table = own.pivot(index="run_id", columns=position, values=value).dropna(axis=1)
        values = table.to_numpy(float)  # [seeds, positions]
        draws = rng.integers(0, len(values), size=(reps, len(values)))
        means = values[draws].mean(axis=1)  # [reps, positions]
        low, high = np.percentile(means, [tail, 100 - tail], axis=0)
        first = own.iloc[0]
        frames.append(
            pd.DataFrame(
                {
                    **dict(zip(keys, key, strict=True)),
                    "setting": first["setting"],
                    "label": first["label"],
                    "sparsity": first["sparsity"],
                    position: table.columns.to_numpy(),
                    "seeds": len(values),
                    "mean": values.mean(axis=0),
                    "low": low,
                    "high": high,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
