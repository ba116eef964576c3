"""Classify one run directory as finished, partial, failed, corrupt or missing, so that only
whole runs are scored and a sweep knows which runs to skip and which to redo."""

from __future__ import annotations

import dataclasses
import enum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sparserl.rundir.files import (
    RunFileError,
    divergence_reason,
    read_config,
    read_metrics,
    read_summary,
)
from sparserl.rundir.schema import CONFIG, METRICS, RUN_FILES, STEP, SUMMARY


class RunStatus(enum.StrEnum):
    """The state of a run directory."""

    FINISHED = "finished"  # every file parses and they agree: safe to score
    PARTIAL = "partial"  # config written, no summary yet: interrupted or still running
    FAILED = "failed"  # summary.json says the run failed or diverged; its reason is kept
    CORRUPT = "corrupt"  # a file does not parse, or the files disagree
    MISSING = "missing"  # no directory, or none of the run files in it


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """What `inspect_run` found: the status, why (empty when finished), and each file that
    parsed. Only a finished run's files are whole and consistent."""

    path: Path
    status: RunStatus
    reason: str
    config: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None
    metrics: pd.DataFrame | None = dataclasses.field(default=None, repr=False)


def inspect_run(path: str | Path) -> RunRecord:
    """Read and check the run directory at `path`; never raises on a damaged directory."""
    path = Path(path)
    parsed: dict[str, Any] = {}
    try:
        return _classify(path, parsed)
    except RunFileError as error:
        return RunRecord(path, RunStatus.CORRUPT, str(error), **parsed)


def _classify(path: Path, parsed: dict[str, Any]) -> RunRecord:
    """The record of `path`; raises RunFileError for a corrupt run, after putting each file
    that parsed into `parsed`."""
    present = [name for name in RUN_FILES if (path / name).is_file()]
    if not present:
        reason = "no run files yet" if path.is_dir() else "no such directory"
        return RunRecord(path, RunStatus.MISSING, reason)
    if CONFIG in present:
        parsed["config"] = read_config(path / CONFIG)
    if SUMMARY in present:
        summary = parsed["summary"] = read_summary(path / SUMMARY)
        if summary["status"] == RunStatus.FAILED:  # possibly before any config was written
            reason = str(summary.get("reason") or "no reason given")
            return RunRecord(path, RunStatus.FAILED, reason, **parsed)
        if METRICS not in present:
            raise RunFileError(METRICS, f"missing although {SUMMARY} says finished")
    if CONFIG not in present:
        raise RunFileError(CONFIG, f"missing beside {', '.join(present)}")
    config = parsed["config"]
    metrics = None
    if METRICS in present:
        metrics = parsed["metrics"] = read_metrics(path / METRICS)
        _check_steps(config, metrics)
    done = 0 if metrics is None or metrics.empty else int(metrics[STEP].iloc[-1])
    if SUMMARY not in present:
        reason = f"no {SUMMARY}: stopped at step {done} of {config['steps']}"
        return RunRecord(path, RunStatus.PARTIAL, reason, **parsed)
    if len(metrics) != summary["evaluations"]:
        raise RunFileError(
            METRICS,
            f"{len(metrics)} rows, but {SUMMARY} counts {summary['evaluations']} evaluations",
        )
    if done != config["steps"]:
        raise RunFileError(METRICS, f"ends at step {done}, but the run has {config['steps']} steps")
    if "diverged" in summary:  # a NaN/inf or exploding loss: its scores are not to be trusted
        return RunRecord(path, RunStatus.FAILED, divergence_reason(summary["diverged"]), **parsed)
    if summary.get("finite_loss") is False:  # written before divergences were recorded
        return RunRecord(path, RunStatus.FAILED, "non-finite loss during training", **parsed)
    return RunRecord(path, RunStatus.FINISHED, "", **parsed)


def _check_steps(config: dict[str, Any], metrics: pd.DataFrame) -> None:
    """Evaluations come every eval_interval steps, from the first, up to the run's length."""
    steps = metrics[STEP].to_numpy()
    expected = config["eval_interval"] * np.arange(1, len(steps) + 1)
    if (
        not np.array_equal(steps, expected)
        or len(steps) * config["eval_interval"] > config["steps"]
    ):
        shown = ", ".join(str(s) for s in steps[:5]) + (", ..." if len(steps) > 5 else "")
        raise RunFileError(
            METRICS,
            f"steps {shown} are not every {config['eval_interval']} up to {config['steps']}",
        )
