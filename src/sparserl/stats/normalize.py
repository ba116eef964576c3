"""Score normalisation: put final returns of different environments on one scale before they are
aggregated (relative to dense for MuJoCo, human-normalised for Atari, min-max for classic control).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pandas as pd

from sparserl.stats.references import ATARI_RANDOM_HUMAN, CLASSIC_CONTROL_RANGES, atari_game

COLUMNS = ("env", "method", "sparsity", "seed", "score")
SCHEMES = ("dense", "min_max", "human", "none")


def check_columns(df: pd.DataFrame, columns: tuple[str, ...] = COLUMNS) -> None:
    """Raise naming the missing columns if `df` lacks any of `columns`."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"score table lacks column(s) {missing}; it needs {list(columns)}")


def is_dense(df: pd.DataFrame) -> pd.Series:
    """Rows of the standard dense agent (Graesser et al.'s "Dense: 100%"): method 'dense' with
    no sparsity."""
    return (df["method"] == "dense") & df["sparsity"].isna()


def min_max(scores: npt.ArrayLike, low: npt.ArrayLike, high: npt.ArrayLike) -> np.ndarray:
    """(scores - low) / (high - low): 0 at `low`, 1 at `high` (both may be per-score arrays)."""
    low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    if np.any(high <= low):
        raise ValueError(f"min-max normalisation needs high > low, got low={low}, high={high}")
    return (np.asarray(scores, dtype=float) - low) / (high - low)


def human_normalized(scores: npt.ArrayLike, game: str) -> np.ndarray:
    """Atari human-normalised scores: 0 at the random agent's return, 1 at the human's."""
    return min_max(scores, *ATARI_RANDOM_HUMAN[atari_game(game)])


def classic_control_range(env: str) -> tuple[float, float]:
    """The (random, best) returns of a classic-control env, or an error naming the known envs."""
    if env not in CLASSIC_CONTROL_RANGES:
        raise ValueError(
            f"no min-max range for env {env!r}; known envs: {sorted(CLASSIC_CONTROL_RANGES)}"
        )
    return CLASSIC_CONTROL_RANGES[env]


def relative_to_dense(df: pd.DataFrame) -> pd.DataFrame:
    """Scores divided by the mean score of the same env's dense runs, so dense averages 1 (as
    Graesser et al. 2022 normalise MuJoCo returns)."""
    check_columns(df)
    dense_mean = df[is_dense(df)].groupby("env")["score"].mean()
    missing = sorted(set(df["env"]) - set(dense_mean.index))
    if missing:
        raise ValueError(
            f"no dense runs (method 'dense', sparsity None) for env(s) {missing}; "
            "relative-to-dense normalisation divides by their mean score"
        )
    not_positive = dense_mean[dense_mean <= 0]
    if len(not_positive):
        raise ValueError(
            f"dense mean score must be positive to divide by, got {not_positive.to_dict()}; "
            "use min-max normalisation for envs with negative returns"
        )
    out = df.copy()
    out["score"] = df["score"] / df["env"].map(dense_mean)
    return out


def _by_env_range(df: pd.DataFrame, range_of: Callable[[str], tuple[float, float]]) -> pd.DataFrame:
    """Min-max normalise each row with its env's (low, high) from `range_of`."""
    check_columns(df)
    ranges = {env: range_of(env) for env in df["env"].unique()}
    low = df["env"].map(lambda env: ranges[env][0]).to_numpy(float)
    high = df["env"].map(lambda env: ranges[env][1]).to_numpy(float)
    out = df.copy()
    out["score"] = min_max(df["score"], low, high)
    return out


def normalize(df: pd.DataFrame, scheme: str) -> pd.DataFrame:
    """A copy of the final-score table with `score` normalised by `scheme`: "dense" (relative to
    dense), "min_max" (classic control), "human" (Atari) or "none"."""
    if scheme == "dense":
        return relative_to_dense(df)
    if scheme == "min_max":
        return _by_env_range(df, classic_control_range)
    if scheme == "human":
        return _by_env_range(df, lambda env: ATARI_RANDOM_HUMAN[atari_game(env)])
    if scheme == "none":
        check_columns(df)
        return df.copy()
    raise ValueError(f"unknown normalisation scheme {scheme!r}; allowed: {list(SCHEMES)}")
