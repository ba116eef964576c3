"""Agent steps per second of DQN on Pong (ALE, Dopamine's protocol), host-stepped with frame
replay, and where the time goes: the emulator and preprocessing (env), the jitted ε-greedy act,
the jitted replay store, and the updates (one per 4 steps at the default replay ratio 0.25).

Networks: the Nature CNN (width 1) and the Impala ResNet at width 3 (Obando-Ceron et al.
2024). Each runs dense, 1 seed (BENCH_SEEDS to change), after a warm-up that fills the replay
past `min_replay` and compiles every piece; then BENCH_STEPS (default 200) agent steps are
timed, each call blocked on its result so that the split adds up. Runs on the GPU where JAX
finds one.

    .venv/bin/python benchmarks/atari_dqn.py
"""

from __future__ import annotations

import collections
import os
import time

import jax

from sparserl.train import TrainSpec
from sparserl.train.run import value_param_shapes, value_runner
from sparserl.train.spec import resolve

STEPS = int(os.environ.get("BENCH_STEPS", 200))
SEEDS = int(os.environ.get("BENCH_SEEDS", 1))
WARMUP = 600  # agent steps: past min_replay, so the update is compiled and has run
NETWORKS = {
    "DQN Nature CNN": {"torso": "nature_cnn", "width": 1.0},
    "DQN Impala x3": {"torso": "impala", "width": 3.0},
}


def runner_for(network: dict):
    spec = TrainSpec(
        "dqn",
        "ALE/Pong-v5",
        seeds=SEEDS,
        steps=100_000,
        agent_options={**network, "min_replay": 400, "replay_capacity": 20_000},
    )
    resolved = resolve(spec)
    params = value_param_shapes(resolved)
    return value_runner(resolved), sum(x.size for x in jax.tree.leaves(params))


def timed(seconds: dict, label: str, fn):
    """`fn` that adds its blocking wall time to `seconds[label]`."""

    def call(*args):
        start = time.perf_counter()
        out = jax.block_until_ready(fn(*args))
        seconds[label] += time.perf_counter() - start
        return out

    return call


def measure(network: dict) -> dict:
    runner, parameters = runner_for(network)
    runner.advance(0, WARMUP)
    seconds = collections.defaultdict(float)
    program = runner.program
    # cached_property values live in the instance dict: wrap the compiled pieces in place
    for name, label in (("compiled_act", "act"), ("compiled_store", "store")):
        program.__dict__[name] = timed(seconds, label, getattr(program, name))
    program.__dict__["compiled_learn"] = timed(seconds, "update", program.compiled_learn)
    runner.vector.step = timed(seconds, "env", runner.vector.step)
    start = time.perf_counter()
    runner.advance(WARMUP, STEPS)
    total = time.perf_counter() - start
    runner.close()
    updates = STEPS // runner.period
    return {
        "parameters": parameters,
        "steps/s": STEPS / total,
        "env ms/step": 1e3 * seconds["env"] / STEPS,
        "act ms/step": 1e3 * seconds["act"] / STEPS,
        "store ms/step": 1e3 * seconds["store"] / STEPS,
        "ms/update": 1e3 * seconds["update"] / updates,
        "update share": seconds["update"] / total,
        "env share": seconds["env"] / total,
    }


def main() -> None:
    rows = {name: measure(network) for name, network in NETWORKS.items()}
    device = jax.devices()[0]
    print(
        f"Pong, {SEEDS} seed(s) vmapped, {STEPS} agent steps timed after {WARMUP} warm-up, "
        f"replay ratio 0.25, batch 32; device: {device.platform} ({device.device_kind}), "
        f"{os.cpu_count()} CPUs"
    )
    header = ["network", *next(iter(rows.values()))]
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for name, row in rows.items():
        cells = [f"{row['parameters']:,}"] + [
            f"{v:.0%}" if "share" in k else f"{v:.2f}" for k, v in row.items() if k != "parameters"
        ]
        print(" | ".join([name, *cells]))


if __name__ == "__main__":
    main()
