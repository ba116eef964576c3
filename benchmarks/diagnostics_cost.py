"""What the in-loop probe costs: training time with diagnostics off and on at the default
cadence (`TrainSpec.diagnostics_every`, or `--every`; the probe batch: the agent's training
minibatch), DQN on CartPole-v1 and SAC on Pendulum-v1 (gymnax), side by side.

Each workload is the agent's default preset over `--steps` env steps with the default 50
evaluations; the probe runs at every k-th evaluation once learning has started (dormant fraction,
srank, per-example gradients and their SNR, norms, mask turnover, Q statistics) and saves
gradient cosine matrices at three of them. Timing: both programs are compiled by one untimed
run each, then `--repeats` runs of each, alternating off and on, are timed from the first
chunk to the last evaluation's metrics on the host (no files written); the table shows the
fastest of each, the overhead (on / off - 1; target <= 5% at the default cadence) and the
compilation time of each program (its first run minus the fastest).

    .venv/bin/python benchmarks/diagnostics_cost.py            # DQN 100k, SAC 20k steps
    .venv/bin/python benchmarks/diagnostics_cost.py --quick    # DQN 20k, SAC 4k steps
    .venv/bin/python benchmarks/diagnostics_cost.py --tiny     # seconds: the fast tests' check
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from sparserl.experiment import TrainSpec, resolve
from sparserl.train import make_program, make_runner

WORKLOADS = {
    "DQN CartPole-v1": TrainSpec("dqn", "CartPole-v1", steps=100_000),
    "SAC Pendulum-v1": TrainSpec("sac", "Pendulum-v1", steps=20_000),
}
# --quick: a fifth of the steps, so a tenth of the updates between probes of the full runs'
# (the probe's share is larger: an upper bound of the full runs' overhead).
QUICK_STEPS = {"DQN CartPole-v1": 20_000, "SAC Pendulum-v1": 4_000}
# --tiny: a few evaluations of small networks, seconds once compiled.
TINY = {
    "DQN CartPole-v1": TrainSpec(
        "dqn",
        "CartPole-v1",
        steps=400,
        eval_interval=100,
        eval_episodes=1,
        agent_options={"hidden": (16, 16), "batch_size": 8, "min_replay": 64},
    ),
    "SAC Pendulum-v1": TrainSpec(
        "sac",
        "Pendulum-v1",
        steps=60,
        eval_interval=20,
        eval_episodes=1,
        agent_options={"hidden": (16, 16), "learning_starts": 20, "batch_size": 8},
    ),
}


def run_seconds(plan, program) -> float:
    """Seconds of one whole run of `plan` on the compiled `program` (chunk metrics on the
    host after every evaluation, as training writes them)."""
    runner = make_runner(plan, program=program)
    start = time.perf_counter()
    for chunk in range(plan.spec.steps // plan.eval_interval):
        runner.chunk(chunk)
    seconds = time.perf_counter() - start
    runner.close()
    return seconds


def measure(spec: TrainSpec, repeats: int, every: int) -> dict[str, float]:
    """{"off", "on"} (probing every `every`-th evaluation): the fastest of `repeats` timed runs
    of each, after one untimed run each; their compile times; "probes": how many probed."""
    plans = {
        name: resolve(dataclasses.replace(spec, diagnostics_every=cadence))
        for name, cadence in (("off", 0), ("on", every))
    }
    programs = {name: make_program(plan) for name, plan in plans.items()}
    first = {name: run_seconds(plans[name], programs[name]) for name in plans}  # compiles
    times: dict[str, list[float]] = {name: [] for name in plans}
    for _ in range(repeats):
        for name in plans:
            times[name].append(run_seconds(plans[name], programs[name]))
    result = {name: min(times[name]) for name in plans}
    # compilation: what the first run took beyond a compiled run
    compile_s = {f"compile {name}": first[name] - result[name] for name in plans}
    return {**result, **compile_s, "probes": len(programs["on"].diagnostics.probes)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tiny", action="store_true", help="tiny runs: seconds, numbers mean nothing"
    )
    parser.add_argument("--quick", action="store_true", help="DQN 20k, SAC 4k steps")
    parser.add_argument(
        "--every", type=int, help="probe cadence (default: TrainSpec's; --tiny: 1, every one)"
    )
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each (default 2)")
    args = parser.parse_args(argv)
    workloads = TINY if args.tiny else WORKLOADS
    if args.quick and not args.tiny:
        workloads = {
            name: dataclasses.replace(spec, steps=QUICK_STEPS[name])
            for name, spec in workloads.items()
        }
    repeats = 1 if args.tiny else args.repeats
    every = args.every or (1 if args.tiny else TrainSpec.diagnostics_every)
    print(f"diagnostics every {every} evaluation(s); fastest of {repeats}")
    print("| workload | steps | probes | off s | on s | overhead % | compile off s | on s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, spec in workloads.items():
        result = measure(spec, repeats, every)
        overhead = 100.0 * (result["on"] / result["off"] - 1.0)
        print(
            f"| {name} | {spec.steps} | {result['probes']} | {result['off']:.2f} | "
            f"{result['on']:.2f} | {overhead:+.1f} | {result['compile off']:.1f} | "
            f"{result['compile on']:.1f} |"
        )


if __name__ == "__main__":
    main()
