"""Which XLA/CPU thread setting serves a small RL training step on this machine?

Runs the same jitted, scanned Adam step (MLP 4-256-256-2, batch 128; 1 seed and 10 vmapped
seeds) in a fresh process per setting, interleaved, and prints the median time per step:
- default: XLA's own choice (its CPU runtime uses the machine's cores);
- eigen-off: XLA_FLAGS=--xla_cpu_multi_thread_eigen=false;
- one-core: the process pinned to a single core (sched_setaffinity), what a sweep running one
  run per core gets.

    .venv/bin/python benchmarks/threads.py
    .venv/bin/python benchmarks/threads.py --tiny   # seconds: 10 steps, 1 and 2 seeds, once

`--tiny` runs the default and the one-core setting (eigen-off differs from the default only
in its environment).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

SETTINGS = {
    "default": {},
    "eigen-off": {"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false"},
    "one-core": {"SPARSERL_BENCH_PIN": "1"},
}
TINY_SETTINGS = ("default", "one-core")
REPEATS = int(os.environ.get("BENCH_REPEATS", 3))

CHILD = r"""
import json, os, time
if os.environ.get("SPARSERL_BENCH_PIN"):
    os.sched_setaffinity(0, {0})
import jax, jax.numpy as jnp, optax
from workload import MLP, regression_batch

out = {}
steps, seed_counts = int(os.environ["BENCH_STEPS"]), json.loads(os.environ["BENCH_SEEDS"])
for seeds in seed_counts:
    net, opt = MLP(), optax.adam(1e-3)
    x, y = regression_batch()
    def init(k):
        p = net.init(k, x)
        return p, opt.init(p)
    def step(carry, _):
        p, o = carry
        g = jax.grad(lambda p: jnp.mean((net.apply(p, x) - y) ** 2))(p)
        u, o = opt.update(g, o, p)
        return (optax.apply_updates(p, u), o), None
    run = jax.jit(jax.vmap(lambda c: jax.lax.scan(step, c, None, length=steps)[0]))
    carry = jax.jit(jax.vmap(init))(jax.random.split(jax.random.key(0), seeds))
    jax.block_until_ready(run(carry))
    start = time.perf_counter()
    jax.block_until_ready(run(carry))
    out[seeds] = (time.perf_counter() - start) / steps
print(json.dumps(out))
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tiny", action="store_true", help="10 steps, 1 and 2 seeds, once, 2 settings"
    )
    tiny = parser.parse_args(argv).tiny
    repeats, steps, many = (1, 10, 2) if tiny else (REPEATS, 1000, 10)
    counts = {"BENCH_STEPS": str(steps), "BENCH_SEEDS": json.dumps([1, many])}
    samples: dict[str, list[dict]] = {name: [] for name in (TINY_SETTINGS if tiny else SETTINGS)}
    for _ in range(repeats):
        for name in samples:
            env = {
                **os.environ,
                **SETTINGS[name],
                **counts,
                "PYTHONPATH": os.path.dirname(__file__),
            }
            result = subprocess.run(
                [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True
            )
            samples[name].append(json.loads(result.stdout))
    keys = ("1", str(many))
    base = {s: statistics.median(r[s] for r in samples["default"]) for s in keys}
    print(f"cores: {os.cpu_count()}; median of {repeats}; us per training step (x default)")
    print(f"{'setting':<12} {'1 seed':>16} {f'{many} seeds (vmap)':>18}")
    for name, runs in samples.items():
        cells = []
        for seeds in keys:
            t = statistics.median(r[seeds] for r in runs)
            cells.append(f"{t * 1e6:8.0f} ({t / base[seeds]:.2f}x)")
        print(f"{name:<12} {cells[0]:>16} {cells[1]:>18}")


if __name__ == "__main__":
    main()
