"""Find the run directories of a sweep: a sweep directory holds its spec and its runs, either
directly or one folder down (e.g. SWEEP/runs/<run_id>)."""

from __future__ import annotations

from pathlib import Path

from sparserl.rundir.schema import RUN_FILES


def find_runs(directory: str | Path, depth: int = 2) -> list[Path]:
    """`directory` itself if it holds any run file, else the run directories up to `depth`
    levels below it, sorted; hidden folders are skipped."""
    directory = Path(directory)
    if any((directory / name).is_file() for name in RUN_FILES):
        return [directory]
    if depth == 0:
        return []
    children = sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))
    return [run for child in children for run in find_runs(child, depth - 1)]
