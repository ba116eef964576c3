"""Load a sweep (or one run) into two DataFrames: one row per run with its status, and one row
per evaluation of the runs whose scores can be used."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from sparserl.results.discover import find_runs
from sparserl.rundir.schema import AGENT_NUMBERS, EVAL_RETURN, STEP, SUMMARY_COLUMNS
from sparserl.rundir.status import RunRecord, RunStatus, inspect_run
from sparserl.validation import is_a

# match_sparsity: set for a parameter-matched dense run (the sparsity it is sized for);
# actor_fraction: the actor's share of an actor-critic weight budget, if split
CONFIG_COLUMNS = (
    "agent",
    "env",
    "method",
    "sparsity",
    "match_sparsity",
    "seed",
    "steps",
    "eval_interval",
    "preset",
    "actor_fraction",
)
# The resolved agent and method configs as dicts, for what varies between runs beyond the
# columns above (sweep axes, swept values).
CONFIG_OBJECTS = ("agent_config", "method_config")
RUN_COLUMNS = (
    ("run_id", "path", "status", "reason")
    + CONFIG_COLUMNS
    + ("distribution",)
    + CONFIG_OBJECTS
    + AGENT_NUMBERS
    + ("evaluations", *SUMMARY_COLUMNS)
)
# Only fields whose types `files` checked, so the conversion cannot fail on a damaged file.
INTEGERS = ("seed", "steps", "eval_interval", "evaluations", "parameters", "dense_parameters")
FLOATS = (
    "sparsity",
    "match_sparsity",
    "actor_fraction",
    *AGENT_NUMBERS,
    "final_return",
    "final_sparsity",
    "inference_flops",
)
FLOATS += ("training_flops_per_example", "group_wall_s")
DTYPES = {**dict.fromkeys(INTEGERS, "Int64"), **dict.fromkeys(FLOATS, "float64")}
DTYPES["finite_loss"] = "boolean"


class Results(NamedTuple):
    """`runs`: one row per run directory, any status; summary columns are filled for finished
    runs only. `evaluations`: run_id and the metrics.csv columns, one row per evaluation."""

    runs: pd.DataFrame
    evaluations: pd.DataFrame


def load(directory: str | Path, include_partial: bool = False) -> Results:
    """The runs under `directory` (a sweep, or one run directory). Only finished runs, and
    partial ones if asked, have evaluations; an empty directory gives empty frames."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"no results directory {directory}")
    records = {_run_id(directory, p): inspect_run(p) for p in find_runs(directory)}
    rows = [_run_row(run_id, record) for run_id, record in records.items()]
    runs = pd.DataFrame.from_records(rows, columns=list(RUN_COLUMNS)).astype(DTYPES)
    scored = {RunStatus.FINISHED, RunStatus.PARTIAL} if include_partial else {RunStatus.FINISHED}
    metrics = {
        run_id: record.metrics
        for run_id, record in records.items()
        if record.status in scored and record.metrics is not None
    }
    return Results(runs, _evaluations(metrics))


def _run_id(root: Path, path: Path) -> str:
    """The run's path below the loaded directory: its name in a flat sweep, always unique."""
    return path.name if path == root else path.relative_to(root).as_posix()


def _run_row(run_id: str, record: RunRecord) -> dict[str, Any]:
    config = record.config or {}
    agent = config.get("agent_config") or {}
    summary = record.summary if record.status == RunStatus.FINISHED else {}
    return {
        "run_id": run_id,
        "path": str(record.path),
        "status": record.status.value,
        "reason": record.reason,
        **{key: config.get(key) for key in CONFIG_COLUMNS},
        "actor_fraction": _number(config.get("actor_fraction")),  # files does not check it
        "distribution": _distribution(config.get("method_config")),
        **{key: _object(config.get(key)) for key in CONFIG_OBJECTS},
        **{key: agent.get(key) for key in AGENT_NUMBERS},
        "evaluations": 0 if record.metrics is None else len(record.metrics),
        **{column: summary.get(key) for column, key in SUMMARY_COLUMNS.items()},
    }


def _number(value: Any) -> float | None:
    """`value` if it is a (finite) number, else None."""
    return value if is_a(float, value) else None


def _object(value: Any) -> dict[str, Any] | None:
    """A config object as read, or None if it is missing or not an object."""
    return value if isinstance(value, dict) else None


def _distribution(method_config: Any) -> str | None:
    """The layer-density distribution of the run's method (one network's, or the networks'
    common one for actor-critic agents; 'mixed' if they differ), or None (dense)."""
    if not isinstance(method_config, dict):
        return None
    if "distribution" in method_config or not all(
        isinstance(v, dict) for v in method_config.values()
    ):
        value = method_config.get("distribution")
        return value if isinstance(value, str) else None
    found = {_distribution(network) for network in method_config.values()} - {None}
    return found.pop() if len(found) == 1 else ("mixed" if found else None)


def _evaluations(metrics: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """All runs' metrics stacked, with run_id as the first column."""
    if not metrics:
        return pd.DataFrame(columns=["run_id", STEP, EVAL_RETURN])
    stacked = pd.concat(metrics, names=["run_id", None])
    return stacked.reset_index(level="run_id").reset_index(drop=True)
