"""SAC on HalfCheetah-v5 (the peer harness's W3 workload): env-steps/s of sparserl's host loop
for 1 seed and for 5 seeds in one vectorised run, dense and 90% RigL, optionally side by side
with Stable-Baselines3 SAC run by ../shared/peers/run_peers.sh in the same invocation.

    .venv/bin/python benchmarks/sac_halfcheetah.py [--steps N] [--no-peers]
    .venv/bin/python benchmarks/sac_halfcheetah.py --tiny   # seconds: the fast tests' check

Rates follow the harness's definition for SB3: all env steps of the run (the 1000 random
warm-up steps, then one update per step) over the time of the run, without the final
evaluation. For sparserl a first runner compiles every call; a second, fresh runner of the same
program is timed, so compilation is excluded (SB3 has none).

`--tiny` needs no peer harness: W3's settings with an MLP 2x16, 20 random and 10 learning
steps, batch 16, 1 seed, RigL 90% only (the dense run takes the same path).
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

from sparserl.experiment import TrainSpec, resolve
from sparserl.train import make_program, make_runner

PEERS = Path(os.environ.get("SPARSERL_PEERS", "/work/shared/peers"))
VARIANTS = {"dense": ("dense", ()), "RigL 90%": ("rigl", (0.9,))}  # label: method, sparsities
TINY_VARIANTS = ("RigL 90%",)
# --tiny: the harness's W3 keys, scaled down to seconds (no peers needed).
TINY = {
    "env_id": "HalfCheetah-v5",
    "hidden": (16, 16),
    "learning_rate": 3e-4,
    "buffer_size": 1_000,
    "batch_size": 16,
    "gamma": 0.99,
    "tau": 0.005,
    "learning_starts": 20,
}


def peer_workload() -> dict:
    """The harness's W3 (SAC on HalfCheetah-v5), from its stdlib-only workloads.py."""
    sys.path.insert(0, str(PEERS))
    from workloads import SAC_HALFCHEETAH

    return SAC_HALFCHEETAH


def time_sparserl(
    w3: dict, method: str, sparsities: tuple, seeds: int, learning_steps: int
) -> float:
    """Env-steps/s (all seeds together) of the W3 configuration: warm-up plus learning."""
    starts = w3["learning_starts"]
    spec = TrainSpec(
        agent="sac",
        env=w3["env_id"],
        method=method,
        sparsities=sparsities,
        seeds=seeds,
        steps=starts + learning_steps,
        eval_interval=starts + learning_steps,
        eval_episodes=1,
        agent_options={
            "hidden": tuple(w3["hidden"]),
            "learning_rate": w3["learning_rate"],
            "replay_capacity": w3["buffer_size"],
            "batch_size": w3["batch_size"],
            "gamma": w3["gamma"],
            "tau": w3["tau"],
            "learning_starts": starts,
        },
    )
    plan = resolve(spec)
    program = make_program(plan)  # both runners share its compiled calls
    compiling = make_runner(plan, program=program)
    compiling.advance(0, starts + 2)  # compiles the acting and the learning calls
    compiling.close()
    runner = make_runner(plan, program=program)
    begin = time.perf_counter()
    runner.advance(0, starts + learning_steps)
    jax.block_until_ready(runner.actions)
    elapsed = time.perf_counter() - begin
    runner.close()
    return seeds * (starts + learning_steps) / elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="learning steps after warm-up")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="seconds, no peers, RigL only")
    args = parser.parse_args(argv)
    w3 = TINY if args.tiny else peer_workload()
    steps, seed_counts = (10, (1,)) if args.tiny else (args.steps, (1, 5))
    rows = []
    if not (args.no_peers or args.tiny):
        out = Path("/tmp/sparserl-bench-sac.jsonl")
        out.unlink(missing_ok=True)
        env = {
            **os.environ,
            "BENCH_OUT": str(out),
            "PEERS": "sb3",
            "BENCH_W3_STEPS": str(w3["learning_starts"] + steps),
        }
        subprocess.run([str(PEERS / "run_peers.sh"), "W3"], env=env, check=True)
        for line in out.read_text().splitlines():
            r = json.loads(line)
            rows.append((f"{r['peer']} (1 seed)", r["steps_per_s"]))
    for label in TINY_VARIANTS if args.tiny else VARIANTS:
        method, sparsities = VARIANTS[label]
        for seeds in seed_counts:
            rate = time_sparserl(w3, method, sparsities, seeds, steps)
            rows.append((f"sparserl {label} ({seeds} seed{'s' * (seeds > 1)})", rate))
    reference = rows[0][1]
    print("\n| variant | env-steps/s | x first row |\n|---|---|---|")
    for name, rate in rows:
        print(f"| {name} | {rate:.0f} | {rate / reference:.2f} |")


if __name__ == "__main__":
    main()
