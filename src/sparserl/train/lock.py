"""One writer per output directory: a sweep (or `train --out`) holds an advisory lock on
DIR/.lock for as long as it writes there, so that a second one started into the same directory
is refused instead of redoing the first one's runs. The system releases the lock when its
holder's process ends, killed or not, so no lock is ever left stuck; the file itself is
deleted when its holder is done (a killed holder leaves it, to be taken over)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from sparserl.rundir.atomic import OutputError, output_error, remove_stale_temps

LOCK_FILE = ".lock"


class DirectoryInUse(OutputError):
    """The directory's lock is held by another process; the message names it."""


@contextlib.contextmanager
def hold(directory: Path, job: str, depth: int) -> Iterator[None]:
    """Hold the lock of `directory` (made if missing) for the block, as `job` ('sweep',
    'training run'), then delete the temporary files that killed writes left up to `depth`
    levels down. Raises DirectoryInUse, naming the holder's pid, host and start time, if
    another process holds it; OutputError if it cannot be made (e.g. a read-only directory).
    On a file system without locks a warning is printed and the block runs unlocked."""
    path = directory / LOCK_FILE
    fd = _lock(directory, path)
    try:
        holder = {"job": job, "pid": os.getpid(), "host": socket.gethostname()}
        holder["since"] = time.strftime("%Y-%m-%d %H:%M:%S")
        with contextlib.suppress(OSError):  # only for a refused writer's message (disk full)
            os.ftruncate(fd, 0)  # a killed holder's description may be there
            os.write(fd, (json.dumps(holder) + "\n").encode())
        remove_stale_temps(directory, depth)
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()  # while still locked: a writer waiting on this file retries
        os.close(fd)  # releases the lock


def _lock(directory: Path, path: Path) -> int:
    """A descriptor of the lock file, locked, and still the file at `path` (its last holder
    may have deleted it between our opening and locking it: then the new one is locked)."""
    while True:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise output_error("lock", path, error) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DirectoryInUse(f"{directory} is {_holder(path)}") from None
        except OSError as error:  # ENOLCK, or a file system without flock
            print(f"warning: {path} cannot be locked ({error.strerror})", file=sys.stderr)
            return fd
        with contextlib.suppress(FileNotFoundError):
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        os.close(fd)


def _holder(path: Path) -> str:
    """Who holds the lock, as its lock file says."""
    try:
        holder = json.loads(path.read_text())
        return (
            f"in use by a {holder['job']} (pid {holder['pid']} on host {holder['host']} since "
            f"{holder['since']}); wait for it to end or use another --out"
        )
    except (OSError, ValueError, KeyError, TypeError):  # its holder has not described it yet
        return f"in use (another process holds {path}); wait for it to end or use another --out"
