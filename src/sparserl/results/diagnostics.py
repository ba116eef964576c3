"""The in-loop probe's metrics.csv columns (`diag/<network>/<measure>[/<layer>]`) in long form:
one row per run, probed evaluation, network, measure and layer, for the report's analysis."""

from __future__ import annotations

import pandas as pd

from sparserl.rundir.schema import DIAGNOSTICS, STEP

# Columns of `long_diagnostics`; layer is '' for a network-wide value.
DIAGNOSTIC_COLUMNS = ("run_id", STEP, "network", "measure", "layer", "value")


def long_diagnostics(evaluations: pd.DataFrame) -> pd.DataFrame:
    """The diagnostics columns of `results.load`'s evaluations as DIAGNOSTIC_COLUMNS rows, one
    per probed value (evaluations without a probe, empty in metrics.csv, give none); empty
    when no run has diagnostics. A layer keeps its own slashes ('q1/encoder/dense_0')."""
    columns = [c for c in evaluations.columns if c.startswith(DIAGNOSTICS)]
    if not columns:
        return pd.DataFrame(columns=list(DIAGNOSTIC_COLUMNS))
    stacked = evaluations.melt(
        id_vars=["run_id", STEP], value_vars=columns, var_name="column", value_name="value"
    ).dropna(subset=["value"])
    parts = stacked["column"].str.removeprefix(DIAGNOSTICS).str.split("/", n=2, expand=True)
    parts = parts.reindex(columns=range(3))
    stacked["network"], stacked["measure"] = parts[0], parts[1]
    stacked["layer"] = parts[2].fillna("")
    stacked["value"] = stacked["value"].astype(float)
    return stacked[list(DIAGNOSTIC_COLUMNS)].reset_index(drop=True)
