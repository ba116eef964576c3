"""Name the compared groups of a sweep: each finished run gets a method label (parameter-matched
dense runs become "dense (matched)" at the sparsity they match) and a group name per sparsity."""

from __future__ import annotations

from typing import Any

import pandas as pd

from sparserl.sparsity import METHODS

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
        MATCHED if is_matched else _label(method, w, distribution)
        for method, w, distribution, is_matched in zip(
            finished["method"], width, finished["distribution"], matched, strict=True
        )
    ]
    finished.loc[matched, "sparsity"] = finished.loc[matched, "match_sparsity"]
    finished["group"] = [
        group_name(label, sparsity)
        for label, sparsity in zip(finished["label"], finished["sparsity"], strict=True)
    ]
    return finished.reset_index(drop=True)


def _label(method: str, width: float, distribution: Any) -> str:
    """'rigl', 'rigl (uniform)' when the distribution is not the method's default, 'dense x3'
    for another width."""
    label = method
    fields = METHODS[method].__dataclass_fields__ if method in METHODS else {}
    default = fields["distribution"].default if "distribution" in fields else None
    if isinstance(distribution, str) and distribution not in (default, "mixed"):
        label += f" ({distribution})"
    return label if width == 1.0 else f"{label} x{width:g}"


def unfinished(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that are not scored (partial, failed, corrupt, missing) with their reasons."""
    columns = ["run_id", "status", "reason", "env", "method", "sparsity", "seed"]
    return runs.loc[runs["status"] != "finished", columns].reset_index(drop=True)
