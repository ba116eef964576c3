"""Name the compared groups of a sweep: each finished run gets a method label (parameter-matched
dense runs become "dense (matched)" at the sparsity they match) and a group name per sparsity."""

from __future__ import annotations

import pandas as pd

DENSE, MATCHED = "dense", "dense (matched)"


def group_name(label: str, sparsity: float) -> str:
    """'dense', 'rigl 0.9', 'dense (matched) 0.9': a label and, if any, its sparsity as %g."""
    return label if pd.isna(sparsity) else f"{label} {sparsity:g}"


def finished_groups(runs: pd.DataFrame) -> pd.DataFrame:
    """The finished rows of `runs` with `label` ("dense (matched)" for a parameter-matched dense
    run, placed at the sparsity it matches; "<method> x<width>" for other widths), `sparsity`
    and `group`."""
    finished = runs[runs["status"] == "finished"].copy()
    matched = finished["match_sparsity"].notna()
    width = finished["width"].fillna(1.0)
    finished["label"] = [
        MATCHED if is_matched else method if w == 1.0 else f"{method} x{w:g}"
        for method, w, is_matched in zip(finished["method"], width, matched, strict=True)
    ]
    finished.loc[matched, "sparsity"] = finished.loc[matched, "match_sparsity"]
    finished["group"] = [
        group_name(label, sparsity)
        for label, sparsity in zip(finished["label"], finished["sparsity"], strict=True)
    ]
    return finished.reset_index(drop=True)


def unfinished(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that are not scored (partial, failed, corrupt, missing) with their reasons."""
    columns = ["run_id", "status", "reason", "env", "method", "sparsity", "seed"]
    return runs.loc[runs["status"] != "finished", columns].reset_index(drop=True)
