"""sparserl.results: read run directories back, telling finished runs from partial, failed
and corrupt ones so that only whole runs are scored; the in-loop probe's diagnostics columns in
long form; and what `sparserl eval` wrote beside them (returns under observation noise,
measures on evaluation data)."""

from sparserl.results.diagnostics import DIAGNOSTIC_COLUMNS, long_diagnostics
from sparserl.results.discover import find_runs
from sparserl.results.load import Results, load
from sparserl.results.posthoc import load_eval_measures, load_noise
from sparserl.rundir.status import RunRecord, RunStatus, inspect_run

__all__ = [
    "DIAGNOSTIC_COLUMNS",
    "Results",
    "RunRecord",
    "RunStatus",
    "find_runs",
    "inspect_run",
    "load",
    "load_eval_measures",
    "load_noise",
    "long_diagnostics",
]
