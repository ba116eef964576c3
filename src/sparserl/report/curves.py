"""Learning curves of the finished runs: evaluation return against env steps per (env, group),
the mean over seeds with a 95% percentile-bootstrap CI of that mean."""

from __future__ import annotations

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
    rng = np.random.default_rng(seed)
    tail = 100 * (1 - confidence) / 2
    frames = []
    for (env, group), rows in curves.groupby(["env", "group"], sort=True):
        returns = rows.pivot(index="run_id", columns="step", values="eval_return").dropna(axis=1)
        values = returns.to_numpy(float)  # [seeds, steps]
        draws = rng.integers(0, len(values), size=(reps, len(values)))
        means = values[draws].mean(axis=1)  # [reps, steps]
        low, high = np.percentile(means, [tail, 100 - tail], axis=0)
        first = rows.iloc[0]
        frames.append(
            pd.DataFrame(
                {
                    "env": env,
                    "group": group,
                    "setting": first["setting"],
                    "label": first["label"],
                    "sparsity": first["sparsity"],
                    "step": returns.columns.to_numpy(),
                    "seeds": len(values),
                    "mean": values.mean(axis=0),
                    "low": low,
                    "high": high,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
