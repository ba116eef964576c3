"""The local sweep runner: every run written once under its group, resumed exactly after a
kill, corrupt runs redone, failures recorded without stopping the sweep, bad specs refused."""

import errno
import io
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sparserl import cli, results
from sparserl.rundir import OutputError, atomic
from sparserl.sweeps import SweepSpecError, loads, run_sweep
from sparserl.sweeps.ray_backend import RayOptions
from sparserl.sweeps.runner import SPEC_FILE, spec_data
from sparserl.train.lock import LOCK_FILE, DirectoryInUse
from sparserl.train.value_jax.runner import ValueRunner

SPEC = """
name: tiny
agents: [dqn]
envs: [CartPole-v1]
methods: [dense, rigl]
sparsities: [0.9]
seeds: 2
steps: 2000
eval_interval: 500
eval_episodes: 2
overrides:
  hidden: [16, 16]
  batch_size: 8
  min_replay: 64
  target_update_period: 40
  replay_capacity: 500
"""
GROUPS = ("dqn_CartPole-v1_dense_width1", "dqn_CartPole-v1_rigl_levels-0.9_width1")
WALL_CLOCK = ("group_wall_s",)


def _summaries(out: Path) -> dict[str, dict]:
    found = {}
    for path in sorted(out.glob("*/*/summary.json")):
        if ".corrupt-" in path.parent.name:
            continue
        summary = json.loads(path.read_text())
        found[f"{path.parent.parent.name}/{path.parent.name}"] = {
            k: v for k, v in summary.items() if k not in WALL_CLOCK
        }
    return found


def _eval_returns(out: Path) -> dict[str, list[float]]:
    return {
        f"{p.parent.parent.name}/{p.parent.name}": pd.read_csv(p)["eval_return"].tolist()
        for p in sorted(out.glob("*/*/metrics.csv"))
    }


def _contents(out: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """The tiny sweep run once, uninterrupted."""
    out = tmp_path_factory.mktemp("sweep") / "out"
    outcome = run_sweep(loads(SPEC), out)
    assert (outcome.finished, outcome.failed, outcome.kept) == (4, 0, 0)
    return out


def test_uninterrupted_sweep_finishes_every_run(finished):
    assert sorted(p.name for p in finished.iterdir() if p.is_dir()) == list(GROUPS)
    assert loads((finished / SPEC_FILE).read_text()) == loads(SPEC)
    assert not list(finished.glob("*/checkpoint.npz"))
    loaded = results.load(finished)
    assert len(loaded.runs) == 4 and set(loaded.runs["status"]) == {"finished"}
    assert len(loaded.evaluations) == 4 * 4
    # A second call keeps everything as it is; no lock is left once a sweep is done.
    before = {p: p.stat().st_mtime_ns for p in finished.rglob("*") if p.is_file()}
    assert run_sweep(loads(SPEC), finished).kept == 4
    assert {p: p.stat().st_mtime_ns for p in finished.rglob("*") if p.is_file()} == before
    assert not list(finished.rglob(LOCK_FILE))


@pytest.mark.slow
def test_killed_sweep_resumes_exactly(finished, tmp_path, compilation_cache):
    (tmp_path / "spec.yaml").write_text(SPEC)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "sparserl.cli", "sweep", str(tmp_path / "spec.yaml")]
    command += ["--out", str(out), "--checkpoint-every", "0"]
    env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": str(compilation_cache)}
    env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    process = subprocess.Popen(
        command, env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while not list(out.glob("*/checkpoint.npz")) and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with pytest.raises(DirectoryInUse, match=rf"in use by a sweep \(pid {process.pid} on host"):
        run_sweep(loads(SPEC), out)  # a second sweep into the running one's directory
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    interrupted = results.load(out, include_partial=True).runs
    assert "partial" in set(interrupted["status"]) and list(out.glob("*/checkpoint.npz"))
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "checkpoint not used" not in done.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.glob("*/*")) == sorted(
        p.relative_to(finished).as_posix() for p in finished.glob("*/*")
    )
    assert _summaries(out) == _summaries(finished)
    assert _eval_returns(out) == _eval_returns(finished)
    assert not list(out.glob("*/checkpoint.npz"))


def test_corrupt_run_is_moved_aside_and_redone(finished, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(finished, out)
    run = out / GROUPS[0] / "dqn_CartPole-v1_dense_seed1"
    (run / "summary.json").write_text('{"status": "fini')
    kept_files = {p: p.read_bytes() for p in (out / GROUPS[1]).rglob("*") if p.is_file()}
    outcome = run_sweep(loads(SPEC), out)
    assert (outcome.finished, outcome.kept) == (1, 3)
    assert results.inspect_run(run).status == "finished"
    assert len(list(run.parent.glob(".dqn_CartPole-v1_dense_seed1.corrupt-*"))) == 1
    # the rest of the group was trained again but its finished files were left alone
    assert (
        _summaries(out)[f"{GROUPS[0]}/{run.name}"]
        == _summaries(finished)[f"{GROUPS[0]}/{run.name}"]
    )
    assert {p: p.read_bytes() for p in (out / GROUPS[1]).rglob("*") if p.is_file()} == kept_files


def test_failing_group_is_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
    spec = loads(SPEC)
    chunk = ValueRunner.chunk

    def chunk_or_crash(self, index):
        if self.program.method.name == "dense" and index == 1:
            raise FloatingPointError("boom")
        return chunk(self, index)

    monkeypatch.setattr(ValueRunner, "chunk", chunk_or_crash)
    outcome = run_sweep(spec, tmp_path / "out")
    assert (outcome.finished, outcome.failed) == (2, 2)
    runs = results.load(tmp_path / "out").runs.set_index("run_id")
    for seed in (0, 1):
        dense = runs.loc[f"{GROUPS[0]}/dqn_CartPole-v1_dense_seed{seed}"]
        assert (dense["status"], dense["reason"]) == ("failed", "FloatingPointError: boom")
        assert runs.loc[f"{GROUPS[1]}/dqn_CartPole-v1_rigl_sparsity0.9_seed{seed}", "status"] == (
            "finished"
        )
    assert not list((tmp_path / "out").glob("*/checkpoint.npz"))
    # failed runs are kept, unless retried
    monkeypatch.setattr(ValueRunner, "chunk", chunk)
    assert run_sweep(spec, tmp_path / "out").kept == 4
    assert run_sweep(spec, tmp_path / "out", retry_failed=True).finished == 2


@pytest.mark.parametrize("learning_rate, finite", [(1e30, False), (1e6, True)])
def test_diverged_loss_fails_the_run_with_its_step(tmp_path, learning_rate, finite):
    spec = loads(
        SPEC.replace("methods: [dense, rigl]", "methods: [dense]").replace(
            "steps: 2000", "steps: 500"
        )
        + f"  learning_rate: {learning_rate:.1e}\n"
    )
    outcome = run_sweep(spec, tmp_path / "out")
    assert outcome.failed == 2
    for reason in results.load(tmp_path / "out").runs["reason"]:
        found = re.fullmatch(
            r"diverged: mean loss (\S+) over the chunk ending at step 500 "
            r"\(bound: finite and at most 1e\+08 in absolute value\)",
            reason,
        )
        value = float(found[1])  # 1e6: ~1e18, a finite loss far above the bound
        assert math.isfinite(value) == finite and not abs(value) <= 1e8


def _fill_disk(monkeypatch, out: Path, room_for: tuple[str, ...]) -> None:
    """Writes under `out` fail for want of space, but those of the file names in `room_for`."""
    mkstemp = atomic.tempfile.mkstemp

    def no_space(*args, **kwargs):
        name = kwargs.get("prefix", "").strip(".")
        if Path(kwargs.get("dir", "/")).is_relative_to(out) and name not in room_for:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return mkstemp(*args, **kwargs)

    monkeypatch.setattr(atomic.tempfile, "mkstemp", no_space)


def _rerun_one(finished: Path, out: Path) -> Path:
    """A copy of the finished sweep with one run of the dense group to do again; that run."""
    shutil.copytree(finished, out)
    run = out / GROUPS[0] / "dqn_CartPole-v1_dense_seed1"
    shutil.rmtree(run)
    return run


def test_full_disk_fails_the_group_with_one_line_and_keeps_earlier_runs(
    finished, tmp_path, monkeypatch
):
    run = _rerun_one(finished, tmp_path / "out")
    before = _contents(tmp_path / "out")
    _fill_disk(monkeypatch, tmp_path / "out", room_for=("summary.json",))
    outcome = run_sweep(loads(SPEC), tmp_path / "out")
    assert (outcome.kept, outcome.finished, outcome.failed) == (3, 0, 1)
    record = results.inspect_run(run)
    assert (record.status, record.reason) == (
        "failed",
        f"OutputError: cannot write {run}/config.json (No space left on device)",
    )
    assert sorted(p.name for p in run.iterdir()) == ["summary.json"]
    assert {p: b for p, b in _contents(tmp_path / "out").items() if p.parent != run} == before


def _last_error(capsys) -> str:
    """The error line `sparserl` printed last (after the sweep's progress lines)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.splitlines()[-1]


def test_full_disk_stops_the_sweep_when_even_the_failure_cannot_be_written(
    finished, tmp_path, monkeypatch, capsys
):
    run = _rerun_one(finished, tmp_path / "out")
    before = _contents(tmp_path / "out")
    (tmp_path / "spec.yaml").write_text(SPEC)
    _fill_disk(monkeypatch, tmp_path / "out", room_for=())
    assert cli.main(["sweep", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "out")]) == 2
    assert _last_error(capsys) == (
        f"sparserl sweep: error: cannot write {run}/summary.json (No space left on device), so "
        f"this failure is not recorded: OutputError: cannot write {run}/config.json "
        "(No space left on device)"
    )
    assert _contents(tmp_path / "out") == before and not run.exists()  # no empty run directory


@pytest.fixture
def tmpfs() -> Iterator:
    """Mounts a 16 MiB tmpfs at a path, to fill up or remount read-only: for root, who writes
    whatever the permissions, the way to make writes fail for real. Skips where mounting is
    not allowed."""
    mounted = []

    def mount(target: Path) -> Path:
        target.mkdir(parents=True, exist_ok=True)
        command = ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(target)]
        if os.geteuid() != 0 or subprocess.run(command, capture_output=True).returncode != 0:
            pytest.skip("needs root allowed to mount a tmpfs")
        mounted.append(target)
        return target

    yield mount
    for target in reversed(mounted):
        subprocess.run(["umount", "-l", str(target)], check=True)


def _read_only(target: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(target)], check=True)


def test_really_full_disk_stops_the_sweep_with_one_line(finished, tmp_path, tmpfs, capsys):
    out = tmpfs(tmp_path / "disk") / "out"
    run = _rerun_one(finished, out)
    before = _contents(out)
    (tmp_path / "spec.yaml").write_text(SPEC)
    filler = os.open(out.parent / "filler", os.O_WRONLY | os.O_CREAT)
    with pytest.raises(OSError, match="No space left"):
        while True:
            os.write(filler, bytes(1 << 16))
    os.close(filler)
    assert cli.main(["sweep", str(tmp_path / "spec.yaml"), "--out", str(out)]) == 2
    assert _last_error(capsys) == (
        f"sparserl sweep: error: cannot write {run}/summary.json (No space left on device), so "
        f"this failure is not recorded: OutputError: cannot write {run}/config.json "
        "(No space left on device)"
    )
    assert _contents(out) == before and not run.exists()


def test_read_only_directories_fail_in_one_line(finished, tmp_path, tmpfs, capsys):
    out = tmp_path / "out"
    shutil.copytree(finished, out, ignore=shutil.ignore_patterns(GROUPS[1]))
    shutil.copytree(finished / GROUPS[1], tmpfs(out / GROUPS[1]), dirs_exist_ok=True)
    _read_only(out / GROUPS[1])
    before = _contents(out)
    # nothing to do in the read-only group: no error from its checkpoint, which is not there
    assert run_sweep(loads(SPEC), out).kept == 4
    assert _contents(out) == before
    # a read-only sweep directory: refused in one line
    shutil.copytree(finished, tmpfs(tmp_path / "ro") / "out")
    _read_only(tmp_path / "ro")
    (tmp_path / "spec.yaml").write_text(SPEC)
    assert cli.main(["sweep", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "ro/out")]) == 2
    ro = tmp_path / "ro/out"
    assert _last_error(capsys) == (
        f"sparserl sweep: error: --out {ro}: cannot write in {ro} (Read-only file system)"
    )
    # the lock itself fails in one line too, when the sweep is started from Python
    with pytest.raises(
        OutputError, match=r"cannot lock .*/ro/out/\.lock \(Read-only file system\)"
    ):
        run_sweep(loads(SPEC), ro)


def test_spec_without_sparsities_reads_back():
    spec = loads(SPEC.replace("sparsities: [0.9]\n", ""))
    assert spec.sparsities == () and loads(yaml.safe_dump(spec_data(spec))) == spec


@pytest.mark.parametrize(
    "text, message",
    [
        (SPEC.replace("rigl]", "rigl, nope]"), "unknown method 'nope'"),
        (SPEC.replace("eval_interval: 500", "eval_interval: 3000"), "cannot run"),
        (SPEC.replace("name: tiny", "name: other"), "holds another sweep"),
    ],
)
def test_bad_spec_leaves_the_directory_untouched(finished, tmp_path, text, message):
    out = tmp_path / "out"
    shutil.copytree(finished, out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(SweepSpecError, match=message):
        run_sweep(loads(text), out)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


@pytest.fixture
def local_ray(compilation_cache, monkeypatch):
    """A 2-CPU Ray runtime on this machine whose workers share the compilation cache."""
    ray = pytest.importorskip("ray")  # an optional extra; scripts/test.sh installs it
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(compilation_cache))
    monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    ray.init(num_cpus=2, include_dashboard=False)
    yield ray
    ray.shutdown()


@pytest.mark.ray
def test_ray_backend_writes_the_runs_of_the_local_backend(finished, tmp_path, local_ray):
    out, stream = tmp_path / "out", io.StringIO()
    outcome = run_sweep(loads(SPEC), out, backend="ray", stream=stream)
    assert (outcome.finished, outcome.failed, outcome.kept) == (4, 0, 0)
    assert _summaries(out) == _summaries(finished)
    assert _eval_returns(out) == _eval_returns(finished)
    assert not list(out.glob("*/checkpoint.npz"))
    assert "sweep: 4/4 runs finished, 0 running, 0 failed" in stream.getvalue()
    assert local_ray.is_initialized()  # a runtime the caller started is left running
    # a group lost half-way resumes on Ray like on the local backend
    shutil.rmtree(out / GROUPS[1])
    assert run_sweep(loads(SPEC), out, backend="ray").finished == 2
    assert _summaries(out) == _summaries(finished)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"backend": "spark"}, r"backend 'spark' is not one of \['local', 'ray'\]"),
        (
            {"ray": RayOptions(address="auto")},
            r"Ray options RayOptions\(address='auto'.* are for backend 'ray', not 'local'",
        ),
        (
            {"backend": "ray", "ray": RayOptions(cpus_per_group=0)},
            "cpus_per_group must be a number > 0, got 0",
        ),
        (
            {"backend": "ray", "ray": RayOptions(gpus_per_group=-1)},
            "gpus_per_group must be a number >= 0, got -1",
        ),
    ],
)
def test_bad_backend_options_are_refused_before_writing(tmp_path, options, message):
    with pytest.raises(SweepSpecError, match=message):
        run_sweep(loads(SPEC), tmp_path / "out", **options)
    assert not (tmp_path / "out").exists()


def test_ray_workers_get_one_xla_thread_per_cpu_and_share_gpus_lazily(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
    assert RayOptions().runtime_env() == {
        "env_vars": {"XLA_FLAGS": "--xla_dump_to=/tmp/x --xla_cpu_multi_thread_eigen=false"}
    }
    assert RayOptions(cpus_per_group=4).runtime_env() == {}
    # a flag the driver already has is not given twice (it would miss the compilation cache)
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
    assert RayOptions().runtime_env() == {}
    assert RayOptions(cpus_per_group=4, gpus_per_group=0.25).runtime_env() == {
        "env_vars": {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    }
    assert RayOptions(cpus_per_group=4, gpus_per_group=1).runtime_env() == {}
