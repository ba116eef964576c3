"""Every benchmark runs end to end in its `--tiny` mode and prints its table (numbers of a
tiny run mean nothing; these tests only keep the scripts from rotting).

Compilation is most of a tiny run's time, so the scripts share JAX's persistent compilation
cache, kept in pytest's cache directory: a program compiled once (the sweep's group, locally
then on Ray; the thread settings with the same XLA flags) loads from it, in this session and
in later ones."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import sparserl

ROOT = Path(__file__).resolve().parents[1]
SOURCES = Path(sparserl.__file__).resolve().parents[1]  # the sparserl under test


@pytest.fixture(scope="session")
def compile_cache(request) -> dict[str, str]:
    """Environment variables that make JAX keep every compiled program in pytest's cache."""
    return {
        "JAX_COMPILATION_CACHE_DIR": str(request.config.cache.mkdir("jax-compilation-cache")),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }


@pytest.fixture
def run_tiny(compile_cache):
    return lambda name: _run_tiny(name, compile_cache)


def _run_tiny(name: str, extra_env: dict[str, str]) -> list[str]:
    """`python benchmarks/<name>.py --tiny`, as the README runs it; its stdout lines."""
    env = {**os.environ, **extra_env, "PYTHONPATH": str(SOURCES)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), "--tiny"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.splitlines()


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
    # x dense, ...; "rigl 90%" is two words
    dense, rigl = (_row(lines, name).split() for name in ("dense ", "rigl 90% "))
    assert dense[1:4] == ["T", "2", "600"] and dense[8] == "1.00"
    assert rigl[2:5] == ["T", "2", "600"] and float(rigl[9]) > 0


def test_sac_halfcheetah_tiny(run_tiny):
    lines = run_tiny("sac_halfcheetah")
    assert "| variant | env-steps/s | x first row |" in lines
    first = _cells(_row(lines, "| sparserl dense (1 seed) |"))
    rigl = _cells(_row(lines, "| sparserl RigL 90% (1 seed) |"))
    assert first[2] == "1.00" and float(rigl[1]) > 0


def test_atari_dqn_tiny(run_tiny):
    lines = run_tiny("atari_dqn")
    header = _cells(_row(lines, "network | "))
    row = dict(zip(header, _cells(_row(lines, "DQN Nature CNN x0.25 | ")), strict=True))
    assert float(row["steps/s"]) > 0 and float(row["ms/update"]) > 0


def test_sparsity_step_tiny(run_tiny):
    lines = run_tiny("sparsity_step")
    assert _row(lines, "dense (plain optax) ").split()[-1] == "1.000"
    for variant in ("static 90%", "set 90%", "rigl 90%", "ds (er", "rigl topology update"):
        assert float(_row(lines, variant).split()[-1]) > 0
    assert _row(lines, "rigl update amortised over 1000 steps: ").endswith("of a dense step")


def test_threads_tiny(run_tiny):
    lines = run_tiny("threads")
    assert _row(lines, "setting ").split()[1:] == ["1", "seed", "2", "seeds", "(vmap)"]
    assert _row(lines, "default ").split()[2::2] == ["(1.00x)", "(1.00x)"]
    for setting in ("eigen-off ", "one-core "):
        assert len(_row(lines, setting).split()) == 5


def test_sweep_backends_tiny(run_tiny):
    lines = run_tiny("sweep_backends")
    assert _row(lines, "DQN CartPole-v1, ").startswith("DQN CartPole-v1, 1 groups x 1 seeds x 400")
    assert _cells(_row(lines, "| local (groups one after another) |"))[2] == "1.00"
    assert float(_cells(_row(lines, "| ray, 2 CPUs per group (one at a time) |"))[1]) > 0
