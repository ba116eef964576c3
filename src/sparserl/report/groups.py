"""Name the compared groups of a sweep: each finished run gets a method label (parameter-matched
dense runs become "dense (matched)" at the sparsity they match) and a group name per sparsity."""

from __future__ import annotations

import numpy as np
import pandas as pd

DENSE, MATCHED = "dense", "dense (matched)"
# A matched dense run is placed at the sparsity of the sparse group in its env with the nearest
# parameter count, if within this relative distance (a small net matches only roughly).
MATCH_TOLERANCE = 0.3


def group_name(label: str, sparsity: float) -> str:
    """'dense', 'rigl 0.9', 'dense (matched) 0.9': a label and, if any, its sparsity as %g."""
    return label if pd.isna(sparsity) else f"{label} {sparsity:g}"


def finished_groups(runs: pd.DataFrame) -> pd.DataFrame:
    """The finished rows of `runs` with `label` (method, or "dense (matched)" for dense runs of
    width != 1), `sparsity` (a matched run's: that of the sparse group it matches) and `group`."""
    finished = runs[runs["status"] == "finished"].copy()
    matched = (finished["method"] == DENSE) & (finished["width"].fillna(1.0) != 1.0)
    finished["label"] = finished["method"].where(~matched, MATCHED)
    for index in finished.index[matched]:
        finished.loc[index, "sparsity"] = _matched_sparsity(finished, index)
    finished["group"] = [
        group_name(label, sparsity)
        for label, sparsity in zip(finished["label"], finished["sparsity"], strict=True)
    ]
    return finished.reset_index(drop=True)


def _matched_sparsity(finished: pd.DataFrame, index: int) -> float:
    """The sparsity of the sparse group (same env) whose parameter count is nearest the matched
    run's; without one close enough, 1 - parameters / dense parameters, to two decimals."""
    run = finished.loc[index]
    same_env = finished[(finished["env"] == run["env"]) & finished["sparsity"].notna()]
    same_env = same_env[same_env["method"] != DENSE]
    if len(same_env) and pd.notna(run["parameters"]):
        distance = np.abs(np.log(same_env["parameters"].astype(float) / float(run["parameters"])))
        if distance.min() <= np.log1p(MATCH_TOLERANCE):
            return float(same_env["sparsity"].loc[distance.idxmin()])
    reference = finished[
        (finished["env"] == run["env"]) & (finished["method"] == DENSE) & (finished["width"] == 1)
    ]["parameters"]
    if len(reference) and pd.notna(run["parameters"]):
        return round(1.0 - float(run["parameters"]) / float(reference.median()), 2)
    return np.nan


def unfinished(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that are not scored (partial, failed, corrupt, missing) with their reasons."""
    columns = ["run_id", "status", "reason", "env", "method", "sparsity", "seed"]
    return runs.loc[runs["status"] != "finished", columns].reset_index(drop=True)
