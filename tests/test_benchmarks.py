"""Every benchmark runs end to end in its `--tiny` mode and prints its table (numbers of a
tiny run mean nothing; these tests only keep the scripts from rotting).

Compilation is most of a tiny run's time, so the tests keep it short:
- most of XLA's optimizations are off (`jax_disable_most_optimizations`, and
  JAX_DISABLE_MOST_OPTIMIZATIONS for every process the scripts start);
- most scripts run in this process, imported from their files and called as
  `main(["--tiny"])` (as their `__main__` does), so JAX and sparserl import once for all;
- the two that start processes anyway (threads: one per XLA setting; sweep_backends: Ray's
  workers) run as `python benchmarks/<name>.py --tiny`, started with the module's first test,
  so they run on the second core beside the others; they share JAX's persistent compilation
  cache, kept in pytest's cache directory (Ray's worker loads the program the sweep's local
  run compiled; reruns load everything)."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest

import sparserl

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
SOURCES = Path(sparserl.__file__).resolve().parents[1]  # the sparserl under test
OWN_PROCESS = ("threads", "sweep_backends")


@pytest.fixture(scope="module")
def quick_compiles(request, tmp_path_factory):
    """Most XLA optimizations off, here and in the processes started from here, which import
    the sparserl under test and share a persistent compilation cache."""
    cache = getattr(request.config, "cache", None)
    cache_dir = cache.mkdir("jax-compilation-cache") if cache else tmp_path_factory.mktemp("jax")
    before = jax.config.read("jax_disable_most_optimizations")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "JAX_DISABLE_MOST_OPTIMIZATIONS": "1",
            "JAX_COMPILATION_CACHE_DIR": str(cache_dir),  # read at import: not this process
            "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
            "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(SOURCES), os.getenv("PYTHONPATH")])),
        }.items():
            patch.setenv(name, value)
        patch.syspath_prepend(str(BENCHMARKS))  # the scripts' `from workload import ...`
        jax.config.update("jax_disable_most_optimizations", True)
        try:
            yield
        finally:
            jax.config.update("jax_disable_most_optimizations", before)


@pytest.fixture(scope="module", autouse=True)
def own_processes(request, quick_compiles, tmp_path_factory):
    """name -> (process, stdout file, stderr file) of each selected OWN_PROCESS script, all
    started now; any still running at the end is killed."""
    selected = {item.name for item in request.session.items if item.path == request.path}
    logs = tmp_path_factory.mktemp("benchmarks")
    started = {}
    for name in OWN_PROCESS:
        if f"test_{name}_tiny" in selected:
            out, err = logs / f"{name}.out", logs / f"{name}.err"
            command = [sys.executable, str(BENCHMARKS / f"{name}.py"), "--tiny"]
            with out.open("w") as stdout, err.open("w") as stderr:
                process = subprocess.Popen(command, cwd=ROOT, stdout=stdout, stderr=stderr)
            started[name] = (process, out, err)
    yield started
    for process, _, _ in started.values():
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture
def run_tiny(quick_compiles, own_processes, capsys):
    """`run_tiny(name)`: `benchmarks/<name>.py --tiny`, in this process or waited for; its
    stdout lines."""

    def run(name: str) -> list[str]:
        if name in own_processes:
            process, out, err = own_processes[name]
            assert process.wait(timeout=600) == 0, err.read_text()[-3000:]
            return out.read_text().splitlines()
        spec = importlib.util.spec_from_file_location(
            f"benchmark_{name}", BENCHMARKS / f"{name}.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look up their module
        try:
            spec.loader.exec_module(module)
            module.main(["--tiny"])
        finally:
            del sys.modules[spec.name]
        return capsys.readouterr().out.splitlines()

    return run


def _row(lines: list[str], start: str) -> str:
    rows = [line for line in lines if line.startswith(start)]
    assert len(rows) == 1, (start, lines)
    return rows[0]


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip("|").split("|")]


def test_dqn_cartpole_tiny(run_tiny):
    lines = run_tiny("dqn_cartpole")
    assert _row(lines, "variant ").split()[-4:] == ["GFLOP/s", "%", "peak", "return"]
    # variant, workload, seeds, env steps (both seeds), compile s, run s, wall s, env-steps/s,
    # x dense, GFLOP/s, ...
    dense = _row(lines, "dense ").split()
    assert dense[1:4] == ["T", "2", "600"] and dense[8] == "1.00" and float(dense[9]) > 0


def test_sac_halfcheetah_tiny(run_tiny):
    lines = run_tiny("sac_halfcheetah")
    assert "| variant | env-steps/s | x first row |" in lines
    rigl = _cells(_row(lines, "| sparserl RigL 90% (1 seed) |"))
    assert float(rigl[1]) > 0 and rigl[2] == "1.00"


def test_atari_dqn_tiny(run_tiny):
    lines = run_tiny("atari_dqn")
    header = _cells(_row(lines, "network | "))
    row = dict(zip(header, _cells(_row(lines, "DQN Nature CNN x0.25 | ")), strict=True))
    assert float(row["steps/s"]) > 0 and float(row["ms/update"]) > 0


def test_diagnostics_cost_tiny(run_tiny):
    lines = run_tiny("diagnostics_cost")
    assert (
        "| workload | steps | probes | off s | on s | overhead % | compile off s | on s |" in lines
    )
    for name, steps, probes in (("DQN CartPole-v1", "400", "4"), ("SAC Pendulum-v1", "60", "2")):
        row = _cells(_row(lines, f"| {name} |"))
        assert row[1:3] == [steps, probes] and float(row[3]) > 0 and float(row[4]) > 0


def test_sparsity_step_tiny(run_tiny):
    lines = run_tiny("sparsity_step")
    assert _row(lines, "dense (plain optax) ").split()[-1] == "1.000"
    for variant in ("rigl 90%", "rigl topology update"):
        assert float(_row(lines, variant).split()[-1]) > 0
    assert _row(lines, "rigl update amortised over 1000 steps: ").endswith("of a dense step")


def test_threads_tiny(run_tiny):
    lines = run_tiny("threads")
    assert _row(lines, "setting ").split()[1:] == ["1", "seed", "2", "seeds", "(vmap)"]
    assert _row(lines, "default ").split()[2::2] == ["(1.00x)", "(1.00x)"]
    assert len(_row(lines, "one-core ").split()) == 5


@pytest.mark.ray
def test_sweep_backends_tiny(run_tiny):
    lines = run_tiny("sweep_backends")
    assert _row(lines, "DQN CartPole-v1, ").startswith("DQN CartPole-v1, 1 groups x 1 seeds x 400")
    assert _cells(_row(lines, "| local (groups one after another) |"))[2] == "1.00"
    assert float(_cells(_row(lines, "| ray, 2 CPUs per group (one at a time) |"))[1]) > 0
