"""Wall time of one sweep on this machine: the local backend (groups one after another, XLA on
all cores) against the Ray backend (one task per group, groups side by side) with one and with
two CPUs per task. Each variant runs the same sweep into a fresh directory, compilation
included (every group compiles its program, as in a real sweep); ratios are to local.

Workload: DQN on CartPole-v1, dense, Prune, SET and RigL at 90% (4 groups), 2 seeds,
BENCH_STEPS steps (default 10k), the graesser2022-classic network (512x512).

    .venv/bin/python benchmarks/sweep_backends.py
    .venv/bin/python benchmarks/sweep_backends.py --tiny   # seconds: 1 dense group, 1 seed

`--tiny` runs one group (dense, 1 seed, 400 steps, MLP 2x32, one update per step, one chunk:
one small training program to compile) locally and on Ray with 2 CPUs (the same XLA flags as
the local run, so a persistent compilation cache serves both).
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time

import ray

from sparserl.sweeps import expand, loads, planned_runs, run_sweep
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
TINY_SPEC = """
name: backends-tiny
agents: [dqn]
envs: [CartPole-v1]
methods: [dense]
seeds: 1
steps: 400
eval_interval: 400
eval_episodes: 1
overrides: {hidden: [32, 32], min_replay: 200, replay_ratio: 1}
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="1 dense group, 1 seed, 400 steps")
    tiny = parser.parse_args(argv).tiny
    spec = loads(TINY_SPEC if tiny else SPEC)
    variants = {k: v for k, v in VARIANTS.items() if "1 CPU" not in k} if tiny else VARIANTS
    groups = expand(spec)
    runs = len(planned_runs(groups))
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    seconds = {}
    try:
        with tempfile.TemporaryDirectory() as root:
            for index, (name, options) in enumerate(variants.items()):
                start = time.perf_counter()
                outcome = run_sweep(spec, f"{root}/{index}", stream=io.StringIO(), **options)
                seconds[name] = time.perf_counter() - start
                assert outcome.finished == runs, outcome
    finally:
        ray.shutdown()
    local = seconds["local (groups one after another)"]
    print(
        f"DQN CartPole-v1, {len(groups)} groups x {spec.seeds} seeds x {groups[0].steps:,} "
        f"steps, {os.cpu_count()} CPUs"
    )
    print("| variant | wall s | x local |\n|---|---|---|")
    for name, value in seconds.items():
        print(f"| {name} | {value:.1f} | {local / value:.2f} |")


if __name__ == "__main__":
    main()
