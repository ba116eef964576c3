"""Faults at the edges of a run: one writer per output directory (a killed one leaves no stuck
lock), temporary files of killed writes cleaned up, files that cannot be written or removed
reported in one line naming them, a diverging loss recorded as a failure, and a report with a
bad bootstrap count refused before its directory is made."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sparserl import cli
from sparserl.experiment import TrainSpec
from sparserl.report import write_report
from sparserl.results import RunStatus, inspect_run
from sparserl.rundir import OutputError, atomic_file, remove_file, write_json
from sparserl.train.checkpoint import Checkpointer
from sparserl.train.lock import LOCK_FILE, DirectoryInUse, hold
from sparserl.train.run import DIVERGED_LOSS, divergence

SPEC = """
name: faults
agents: [dqn]
envs: [CartPole-v1]
methods: [dense]
seeds: 1
steps: 1000
eval_interval: 500
"""
# Holds DIR's lock, as a sweep does, and is killed half-way through writing a checkpoint.
HOLDER = """
import sys, time
from pathlib import Path
from sparserl.train.lock import hold
from sparserl.rundir import atomic_file
out = Path(sys.argv[1])
with hold(out, "sweep", depth=2), atomic_file(out / "group" / "checkpoint.npz", "wb") as file:
    file.write(b"half a checkpoint")
    file.flush()
    print("writing", flush=True)
    time.sleep(600)
"""


def test_second_sweep_is_refused_until_the_first_is_killed(tmp_path, capsys):
    out = tmp_path / "out"
    (tmp_path / "spec.yaml").write_text(SPEC)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(out)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "writing\n"
        (temp,) = (out / "group").glob(".checkpoint.npz.*.tmp")
        code = cli.main(["sweep", str(tmp_path / "spec.yaml"), "--out", str(out)])
        error = capsys.readouterr().err
        assert code == 2 and error.count("\n") == 1
        assert error.startswith(
            f"sparserl sweep: error: {out} is in use by a sweep "
            f"(pid {holder.pid} on host {socket.gethostname()} since "
        )
        assert temp.exists() and not (out / "sweep.yaml").exists()  # the holder's, untouched
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    assert temp.read_bytes() == b"half a checkpoint"  # what the kill left behind
    with hold(out, "sweep", depth=2):  # the system released the killed holder's lock
        assert json.loads((out / LOCK_FILE).read_text())["pid"] == os.getpid()
        assert not temp.exists()


def test_lock_is_held_until_the_block_ends(tmp_path):
    refused = rf"in use by a training run \(pid {os.getpid()} "
    with (
        hold(tmp_path, "training run", depth=1),
        pytest.raises(DirectoryInUse, match=refused),
        hold(tmp_path, "sweep", depth=2),
    ):
        pass
    with hold(tmp_path, "sweep", depth=2):
        pass


def test_stale_temporary_files_are_removed_down_to_the_depth(tmp_path):
    stale = [
        tmp_path / ".sweep.yaml.ab_cd123.tmp",
        tmp_path / "group" / ".checkpoint.npz.x1y2z3w4.tmp",
        tmp_path / "group" / "run" / ".metrics.csv.0a1b2c3d.tmp",
    ]
    kept = [
        tmp_path / "group" / "run" / "deeper" / ".metrics.csv.0a1b2c3d.tmp",  # below depth 2
        tmp_path / ".run.corrupt-20250101-000000" / ".metrics.csv.0a1b2c3d.tmp",  # hidden
        tmp_path / "group" / "notes.tmp",  # not a name atomic_file makes
        tmp_path / "group" / ".checkpoint.npz.short.tmp",
        tmp_path / "group" / "run" / "metrics.csv",
    ]
    for path in stale + kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    with hold(tmp_path, "sweep", depth=2):
        assert [p.exists() for p in stale + kept] == [False] * 3 + [True] * 5


@pytest.mark.parametrize("where", ["mkstemp", "write"])
def test_full_disk_fails_in_one_line_and_keeps_the_old_file(tmp_path, monkeypatch, where):
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    kept = tmp_path / "kept.json"
    write_json(kept, {"status": "finished"})
    if where == "mkstemp":  # no room for a new file at all
        monkeypatch.setattr("tempfile.mkstemp", lambda **_: (_ for _ in ()).throw(full))
    for path in (kept, tmp_path / "group" / "run" / "summary.json"):
        with pytest.raises(OutputError) as raised, atomic_file(path) as handle:
            handle.write("{}")
            if where == "write":  # the disk fills while writing
                raise full
        assert str(raised.value) == f"cannot write {path} (No space left on device)"
        assert raised.value.__suppress_context__  # no chained traceback
    assert json.loads(kept.read_text()) == {"status": "finished"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.json"]  # no temp, no empty dir


def test_removing_on_a_read_only_file_system(tmp_path, monkeypatch):
    def read_only(self, missing_ok=False):  # as Linux answers on a read-only mount
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))

    (tmp_path / "metrics.csv").write_text("step\n")
    monkeypatch.setattr(Path, "unlink", read_only)
    spec = TrainSpec(agent="dqn", env="CartPole-v1", method="dense")
    Checkpointer(tmp_path / "checkpoint.npz", spec).remove()  # none there: nothing to do
    with pytest.raises(OutputError, match=r"^cannot remove .*metrics.csv \(Read-only file sys"):
        remove_file(tmp_path / "metrics.csv")


def test_divergence_rule_is_the_first_non_finite_or_too_large_chunk_mean():
    rows = [
        {"step": 100, "critic_loss": DIVERGED_LOSS, "actor_loss": -DIVERGED_LOSS},
        {"step": 200, "critic_loss": 3.0, "actor_loss": -1.1 * DIVERGED_LOSS},
        {"step": 300, "critic_loss": float("nan"), "actor_loss": 1.0},
    ]
    assert DIVERGED_LOSS == 1e8
    assert divergence(rows[:1], ["critic_loss", "actor_loss"]) is None
    assert divergence(rows, ["critic_loss", "actor_loss"]) == {
        "step": 200,
        "loss": "actor_loss",
        "value": "-1.1e+08",
        "bound": 1e8,
    }
    assert divergence(rows, ["critic_loss"])["value"] == "nan"
    assert divergence([{"step": 5, "loss": float("-inf")}], ["loss"])["value"] == "-inf"


def _finished_run(path: Path, **summary) -> Path:
    """A minimal finished run directory: 1000 steps, evaluated at 500 and 1000."""
    path.mkdir(parents=True)
    config = {"agent": "dqn", "env": "CartPole-v1", "method": "dense", "sparsity": None}
    write_json(path / "config.json", {**config, "seed": 0, "steps": 1000, "eval_interval": 500})
    (path / "metrics.csv").write_text("step,eval_return\n500,10.0\n1000,20.0\n")
    summary = {"status": "finished", "evaluations": 2, "final_return": 20.0, **summary}
    write_json(path / "summary.json", summary)
    return path


def test_a_diverged_finished_run_reads_back_as_failed_with_its_rule(tmp_path):
    diverged = {"step": 500, "loss": "loss", "value": "7.5e+18", "bound": 1e8}
    record = inspect_run(_finished_run(tmp_path / "run", finite_loss=True, diverged=diverged))
    assert record.status == RunStatus.FAILED
    assert record.reason == (
        "diverged: mean loss 7.5e+18 over the chunk ending at step 500 "
        "(bound: finite and at most 1e+08 in absolute value)"
    )
    bad = _finished_run(tmp_path / "bad", diverged={"step": "500"})
    assert inspect_run(bad).status == RunStatus.CORRUPT


def test_report_with_zero_bootstrap_samples_writes_nothing(tmp_path, capsys):
    _finished_run(tmp_path / "runs" / "run")
    with pytest.raises(ValueError, match="reps .* must be a positive integer, got 0"):
        write_report(tmp_path / "runs", reps=0)
    assert cli.main(["report", str(tmp_path / "runs"), "--reps", "0"]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "runs" / "report").exists()
