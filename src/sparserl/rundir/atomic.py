"""Run directories written atomically: a crash never leaves a half-written file behind, and a
file that cannot be written (disk full, read-only directory) fails with one line naming it."""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

TEMP_SUFFIX = ".tmp"
# The temporary files of `atomic_file`: ".<name>." + mkstemp's 8 random characters + ".tmp".
_TEMP_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


class OutputError(OSError):
    """A file or directory of the outputs that cannot be written or removed; the message names
    the path and the system's reason, on one line."""


def output_error(action: str, path: Path, error: OSError) -> OutputError:
    """OutputError for `error`, raised when `action` ('write', 'remove', ...) on `path`."""
    return OutputError(f"cannot {action} {path} ({error.strerror or error})")


@contextlib.contextmanager
def atomic_file(path: Path, mode: str = "w") -> Iterator[IO]:
    """A temporary file beside `path` to write into; renamed over `path` once the block ends
    (after an fsync), removed (with the directories made for it) if the block raises. An
    OSError while writing (disk full, read-only) is raised as OutputError."""
    made = list(itertools.takewhile(lambda p: not p.exists(), path.parents))  # innermost first
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    except OSError as error:
        _remove_empty(made)
        raise output_error("write", path, error) from None
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            Path(tmp).unlink(missing_ok=True)
        _remove_empty(made)
        if isinstance(error, OSError) and not isinstance(error, OutputError):
            raise output_error("write", path, error) from None
        raise


def _remove_empty(directories: list[Path]) -> None:
    """Remove the directories `atomic_file` made (innermost first), as far as they are empty."""
    for directory in directories:
        try:
            directory.rmdir()
        except OSError:
            return


def remove_file(path: Path) -> None:
    """Delete `path` if it is there (a read-only directory without it is no error); raises
    OutputError if it is there and cannot be deleted."""
    if not path.exists():
        return
    try:
        path.unlink(missing_ok=True)
    except OSError as error:
        raise output_error("remove", path, error) from None


def remove_stale_temps(directory: Path, depth: int) -> list[Path]:
    """Delete the temporary files that writes killed half-way left in `directory` and in its
    non-hidden folders up to `depth` levels down; returns them. Only safe while holding the
    directory's lock (see `lock.hold`): otherwise they may be another writer's."""
    removed = []
    for entry in sorted(directory.iterdir()) if directory.is_dir() else []:
        if entry.is_file() and _TEMP_NAME.fullmatch(entry.name):
            remove_file(entry)
            removed.append(entry)
        elif entry.is_dir() and depth > 0 and not entry.name.startswith("."):
            removed += remove_stale_temps(entry, depth - 1)
    return removed


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path`."""
    with atomic_file(path) as handle:
        handle.write(text)


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Pretty JSON, atomically."""
    write_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=_jsonable) + "\n")


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """A CSV with the union of the rows' keys as header (first-seen order), atomically."""
    header: list[str] = []
    for row in rows:
        header += [k for k in row if k not in header]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(path, buffer.getvalue())


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)
