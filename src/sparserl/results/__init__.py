"""sparserl.results: read run directories back, telling finished runs from partial, failed
and corrupt ones so that only whole runs are scored."""

from sparserl.results.discover import find_runs
from sparserl.results.load import Results, load
from sparserl.rundir.status import RunRecord, RunStatus, inspect_run

__all__ = ["Results", "RunRecord", "RunStatus", "find_runs", "inspect_run", "load"]
