"""Load what `sparserl eval` wrote beside the runs of a sweep as DataFrames for the report:
returns under observation noise, and the measures of each network on evaluation data. Only
runs whose evaluation is complete (analysis/eval.json written) are loaded."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd

from sparserl.results.load import RUN_COLUMNS, load
from sparserl.rundir.files import RunFileError
from sparserl.rundir.schema import EVAL_MEASURES, EVAL_SETTINGS, NOISE, NOISE_COLUMNS

NETWORK = "network"  # column of load_eval_measures: the network's name (online, actor, critic)


def load_noise(directory: str | Path) -> pd.DataFrame:
    """One row per run × noise level σ of the evaluated runs under `directory`: the run's
    columns of `results.load` (run_id, agent, env, method, sparsity, seed, parameters,
    dense_parameters, ...) then sigma, eval_return and episodes."""
    runs, evaluated = _evaluated(directory)
    rows = {run_id: _read_noise(path) for run_id, path in evaluated}
    return _with_runs(runs, rows, list(NOISE_COLUMNS))


def load_eval_measures(directory: str | Path) -> pd.DataFrame:
    """One row per run × network of the evaluated runs under `directory`: the run's columns
    of `results.load`, then network and the measures on evaluation data (dormant_fraction,
    dormant_fraction_per_layer as a list, srank, parameter_norm, q_* for Q networks)."""
    runs, evaluated = _evaluated(directory)
    rows = {}
    for run_id, path in evaluated:
        networks = _read_json(path / EVAL_MEASURES).get("networks")
        if not isinstance(networks, dict):
            raise RunFileError(EVAL_MEASURES, f"in {path}: no 'networks' object")
        rows[run_id] = pd.DataFrame([{NETWORK: n, **values} for n, values in networks.items()])
    return _with_runs(runs, rows, [NETWORK])


def _evaluated(directory: str | Path) -> tuple[pd.DataFrame, list[tuple[str, Path]]]:
    """The runs under `directory` (`results.load`) and the (run_id, path) of the finished ones
    with a complete evaluation."""
    runs = load(directory).runs
    finished = runs[runs["status"] == "finished"]
    paths = [(r, Path(p)) for r, p in zip(finished["run_id"], finished["path"], strict=True)]
    return runs, [(run_id, path) for run_id, path in paths if (path / EVAL_SETTINGS).is_file()]


def _with_runs(runs: pd.DataFrame, rows: dict[str, pd.DataFrame], first: list[str]):
    """The per-run frames `rows` stacked, each row led by its run's columns from `runs`."""
    if not rows:
        return pd.DataFrame(columns=[*RUN_COLUMNS, *first])
    stacked = pd.concat(rows, names=["run_id", None]).reset_index(level="run_id")
    return runs.merge(stacked.reset_index(drop=True), on="run_id", how="inner")


def _read_noise(path: Path) -> pd.DataFrame:
    """A run's noise.csv: the columns NOISE_COLUMNS, numeric, one row per σ."""
    file = path / NOISE
    try:
        noise = pd.read_csv(io.StringIO(file.read_text()), float_precision="round_trip")
    except (OSError, ValueError) as error:
        raise RunFileError(NOISE, f"in {path}: cannot be read ({error})") from None
    if list(noise.columns) != list(NOISE_COLUMNS):
        raise RunFileError(NOISE, f"in {path}: columns {list(noise.columns)}, not {NOISE_COLUMNS}")
    if any(dtype.kind not in "iuf" for dtype in noise.dtypes) or noise.empty:
        raise RunFileError(NOISE, f"in {path}: empty or non-numeric values")
    return noise


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise RunFileError(path.name, f"in {path.parent}: cannot be read ({error})") from None
    if not isinstance(data, dict):
        raise RunFileError(path.name, f"in {path.parent}: not an object")
    return data
