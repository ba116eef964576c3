"""Parse and check each file of a run directory, so that a damaged file (or one written by a
newer format) is reported by name instead of being read as if it were whole."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sparserl.rundir.schema import (
    ACTIVE,
    AGENT_NUMBERS,
    EVAL_RETURN,
    FAILED,
    FINISHED,
    LEGACY_ACTIVE,
    REQUIRED_COLUMNS,
    STEP,
    SUMMARY_INTEGERS,
    SUMMARY_NUMBERS,
    version_problem,
)
from sparserl.validation import is_a

# A finished summary's record of the first chunk whose mean loss broke train.run.DIVERGED_LOSS.
DIVERGENCE = "an object of step (an integer), loss, value (text) and bound (a number)"


class RunFileError(Exception):
    """A run file that cannot be read, does not parse or breaks the format; the message starts
    with the file's name."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")


def read_config(path: Path) -> dict[str, Any]:
    """config.json: an object naming the run's agent, env, method, seed, sparsity and length."""
    config = _read_json(path)
    for key in ("agent", "env", "method"):
        if not isinstance(config.get(key), str):
            raise RunFileError(path.name, f"{key!r} missing or not a string")
    for key in ("seed", "steps", "eval_interval"):
        if not is_a(int, config.get(key)):
            raise RunFileError(path.name, f"{key!r} missing or not an integer")
    if config["steps"] <= 0 or config["eval_interval"] <= 0:
        raise RunFileError(path.name, "steps and eval_interval must be positive")
    if "sparsity" not in config:
        raise RunFileError(path.name, "'sparsity' missing (null for a dense run)")
    sparsity = config["sparsity"]
    if sparsity is not None and not (is_a(float, sparsity) and 0.0 <= sparsity <= 1.0):
        raise RunFileError(path.name, f"sparsity {sparsity!r} is neither null nor in [0, 1]")
    agent = config.get("agent_config", {})
    if not isinstance(agent, dict):
        raise RunFileError(path.name, "'agent_config' is not an object")
    _check_fields(path.name, agent, AGENT_NUMBERS, float, "a number")
    return config


def read_summary(path: Path) -> dict[str, Any]:
    """summary.json: a 'failed' object (with an optional reason), or a 'finished' one with its
    evaluation count, a finite final return and, if its loss diverged, where."""
    summary = _read_json(path)
    status = summary.get("status")
    if status == FAILED:
        return summary
    if status != FINISHED:
        raise RunFileError(path.name, f"unknown status {status!r}")
    if not is_a(int, summary.get("evaluations")):
        raise RunFileError(path.name, "'evaluations' missing or not an integer")
    final = summary.get("final_return")
    if not is_a(float, final):
        raise RunFileError(path.name, f"final_return {final!r} is not a finite number")
    _check_fields(path.name, summary, SUMMARY_INTEGERS, int, "an integer")
    _check_fields(path.name, summary, SUMMARY_NUMBERS, float, "a number")
    _check_fields(path.name, summary, ("finite_loss",), bool, "a bool")
    if "diverged" in summary and not _is_divergence(summary["diverged"]):
        raise RunFileError(path.name, f"'diverged' is {summary['diverged']!r}, not {DIVERGENCE}")
    return summary


def divergence_reason(diverged: dict[str, Any]) -> str:
    """The one-line reason of a run whose summary has a 'diverged' record."""
    return (
        f"diverged: mean {diverged['loss']} {diverged['value']} over the chunk ending at step "
        f"{diverged['step']} (bound: finite and at most {diverged['bound']:g} in absolute value)"
    )


def _is_divergence(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and is_a(int, value.get("step"))
        and isinstance(value.get("loss"), str)
        and isinstance(value.get("value"), str)
        and is_a(float, value.get("bound"))
    )


def read_metrics(path: Path) -> pd.DataFrame:
    """metrics.csv: the unquoted numeric CSV the trainer writes, one whole row per evaluation,
    with an integer step and a finite eval_return in every row; a format-0 file's mask-count
    columns come back under their current name."""
    text = _read_text(path)
    if not text.endswith("\n"):
        raise RunFileError(path.name, "truncated (no newline at the end)")
    header_fields = text.partition("\n")[0].count(",") + 1
    if text.count(",") != text.count("\n") * (header_fields - 1):
        raise RunFileError(path.name, f"rows with missing or extra fields ({header_fields} named)")
    try:
        metrics = pd.read_csv(io.StringIO(text), index_col=False, float_precision="round_trip")
    except ValueError as error:  # pandas' ParserError and EmptyDataError among them
        raise RunFileError(path.name, f"does not parse ({str(error).strip()})") from error
    missing = [c for c in REQUIRED_COLUMNS if c not in metrics.columns]
    if missing:
        raise RunFileError(path.name, f"missing column(s) {', '.join(missing)}")
    metrics = metrics.rename(columns=_legacy_name)
    if metrics.empty:
        return metrics
    text_columns = [c for c, dtype in metrics.dtypes.items() if dtype.kind not in "iuf"]
    if text_columns:
        raise RunFileError(path.name, f"non-numeric values in {', '.join(text_columns)}")
    if not pd.api.types.is_integer_dtype(metrics[STEP]):
        raise RunFileError(path.name, "step has empty or non-integer values")
    finite = np.isfinite(metrics[EVAL_RETURN].to_numpy())
    if not finite.all():
        step = metrics[STEP].iloc[int(np.argmin(finite))]
        raise RunFileError(path.name, f"eval_return is not finite at step {step}")
    return metrics


def _legacy_name(column: str) -> str:
    """A format-0 column under its current name: nonzeros/<layer> held the mask counts."""
    return ACTIVE + column[len(LEGACY_ACTIVE) :] if column.startswith(LEGACY_ACTIVE) else column


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise RunFileError(path.name, f"cannot be read ({error})") from error


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as error:
        raise RunFileError(path.name, f"not valid JSON ({error})") from error
    if not isinstance(data, dict):
        raise RunFileError(path.name, f"holds a {type(data).__name__}, not an object")
    problem = version_problem(data)
    if problem is not None:
        raise RunFileError(path.name, problem)
    return data


def _check_fields(
    name: str, data: dict[str, Any], keys: tuple[str, ...], kind: type, words: str
) -> None:
    """Each of `keys` that `data` holds is a `kind` (validation.is_a: a finite number for
    float)."""
    for key in keys:
        if key in data and not is_a(kind, data[key]):
            raise RunFileError(name, f"{key!r} is {data[key]!r}, not {words}")
