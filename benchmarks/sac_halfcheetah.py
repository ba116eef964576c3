"""SAC on HalfCheetah-v5 (the peer harness's W3 workload): env-steps/s of sparserl's host loop
for 1 seed and for 5 seeds in one vectorised run, dense and 90% RigL, optionally side by side
with Stable-Baselines3 SAC run by ../shared/peers/run_peers.sh in the same invocation.

    .venv/bin/python benchmarks/sac_halfcheetah.py [--steps N] [--no-peers]

Rates follow the harness's definition for SB3: all env steps of the run (the 1000 random
warm-up steps, then one update per step) over the time of the run, without the final
evaluation. For sparserl a first runner compiles every call; a second, fresh runner of the same
program is timed, so compilation is excluded (SB3 has none).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jax

from sparserl.train.run import actor_critic_program
from sparserl.train.runners import OffPolicyHostRunner
from sparserl.train.spec import TrainSpec, resolve

PEERS = Path(os.environ.get("SPARSERL_PEERS", "/work/shared/peers"))
sys.path.insert(0, str(PEERS))
from workloads import SAC_HALFCHEETAH as W3  # noqa: E402


def time_sparserl(method: str, sparsities: tuple, seeds: int, learning_steps: int) -> float:
    """Env-steps/s (all seeds together) of the W3 configuration: warm-up plus learning."""
    starts = W3["learning_starts"]
    spec = TrainSpec(
        agent="sac",
        env=W3["env_id"],
        method=method,
        sparsities=sparsities,
        seeds=seeds,
        steps=starts + learning_steps,
        eval_interval=starts + learning_steps,
        eval_episodes=1,
        agent_options={
            "hidden": tuple(W3["hidden"]),
            "learning_rate": W3["learning_rate"],
            "replay_capacity": W3["buffer_size"],
            "batch_size": W3["batch_size"],
            "gamma": W3["gamma"],
            "tau": W3["tau"],
            "learning_starts": starts,
        },
    )
    resolved = resolve(spec)
    program, points = actor_critic_program(resolved)
    seed_list = [p["seed"] for p in resolved.grid()]
    compiling = OffPolicyHostRunner(program, points, starts, seed_list)
    compiling.advance(0, starts + 2)  # compiles the acting and the learning calls
    compiling.close()
    runner = OffPolicyHostRunner(program, points, starts, seed_list)
    begin = time.perf_counter()
    runner.advance(0, starts + learning_steps)
    jax.block_until_ready(runner.actions)
    elapsed = time.perf_counter() - begin
    runner.close()
    return seeds * (starts + learning_steps) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="learning steps after warm-up")
    parser.add_argument("--no-peers", action="store_true")
    args = parser.parse_args()
    rows = []
    if not args.no_peers:
        out = Path("/tmp/sparserl-bench-sac.jsonl")
        out.unlink(missing_ok=True)
        env = {
            **os.environ,
            "BENCH_OUT": str(out),
            "PEERS": "sb3",
            "BENCH_W3_STEPS": str(W3["learning_starts"] + args.steps),
        }
        subprocess.run([str(PEERS / "run_peers.sh"), "W3"], env=env, check=True)
        for line in out.read_text().splitlines():
            r = json.loads(line)
            rows.append((f"{r['peer']} (1 seed)", r["steps_per_s"]))
    for method, sparsities, label in (("dense", (), "dense"), ("rigl", (0.9,), "RigL 90%")):
        for seeds in (1, 5):
            rate = time_sparserl(method, sparsities, seeds, args.steps)
            rows.append((f"sparserl {label} ({seeds} seed{'s' * (seeds > 1)})", rate))
    reference = rows[0][1]
    print("\n| variant | env-steps/s | x first row |\n|---|---|---|")
    for name, rate in rows:
        print(f"| {name} | {rate:.0f} | {rate / reference:.2f} |")


if __name__ == "__main__":
    main()
