"""Wall time of one sweep on this machine: the local backend (groups one after another, XLA on
all cores) against the Ray backend (one task per group, groups side by side) with one and with
two CPUs per task. Each variant runs the same sweep into a fresh directory, compilation
included (every group compiles its program, as in a real sweep); ratios are to local.

Workload: DQN on CartPole-v1, dense, Prune, SET and RigL at 90% (4 groups), 2 seeds,
BENCH_STEPS steps (default 10k), the graesser2022-classic network (512x512).

    .venv/bin/python benchmarks/sweep_backends.py
"""

from __future__ import annotations

import io
import os
import tempfile
import time

import ray

from sparserl.sweeps import loads, run_sweep
from sparserl.sweeps.ray_backend import RayOptions

STEPS = int(os.environ.get("BENCH_STEPS", 10_000))
SPEC = f"""
name: backends
agents: [dqn]
envs: [CartPole-v1]
methods: [dense, prune, set, rigl]
sparsities: [0.9]
seeds: 2
steps: {STEPS}
eval_interval: {STEPS // 5}
eval_episodes: 5
"""
VARIANTS = {
    "local (groups one after another)": {},
    "ray, 1 CPU per group (2 side by side)": {
        "backend": "ray",
        "ray": RayOptions(cpus_per_group=1),
    },
    "ray, 2 CPUs per group (one at a time)": {
        "backend": "ray",
        "ray": RayOptions(cpus_per_group=2),
    },
}


def main() -> None:
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    seconds = {}
    with tempfile.TemporaryDirectory() as root:
        for index, (name, options) in enumerate(VARIANTS.items()):
            start = time.perf_counter()
            outcome = run_sweep(loads(SPEC), f"{root}/{index}", stream=io.StringIO(), **options)
            seconds[name] = time.perf_counter() - start
            assert outcome.finished == 8, outcome
    ray.shutdown()
    local = seconds["local (groups one after another)"]
    print(f"DQN CartPole-v1, 4 groups x 2 seeds x {STEPS:,} steps, {os.cpu_count()} CPUs")
    print("| variant | wall s | x local |\n|---|---|---|")
    for name, value in seconds.items():
        print(f"| {name} | {value:.1f} | {local / value:.2f} |")


if __name__ == "__main__":
    main()
