"""Agent steps per second of DQN on Pong (ALE, Dopamine's protocol), host-stepped with frame
replay, and where the time goes: the emulator and preprocessing (env), the jitted ε-greedy act,
the jitted replay store, and the updates (one per 4 steps at the default replay ratio 0.25).

Networks: the Nature CNN (width 1) and the Impala ResNet at width 3 (Obando-Ceron et al.
2024). Each runs dense, 1 seed (BENCH_SEEDS to change), after a warm-up that fills the replay
past `min_replay` and compiles every piece; then BENCH_STEPS (default 200) agent steps are
timed, each call blocked on its result so that the split adds up. Runs on the GPU where JAX
finds one.

    .venv/bin/python benchmarks/atari_dqn.py
    .venv/bin/python benchmarks/atari_dqn.py --tiny   # seconds: the fast tests' check

`--tiny` times 8 steps after a 60-step warm-up (replay from 40), the Nature CNN at width 0.25.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import os
import time

import jax

from sparserl.experiment import ONLINE, TrainSpec, resolve
from sparserl.train import make_runner


@dataclasses.dataclass(frozen=True)
class Scale:
    """How much is timed: agent steps, warm-up (past `min_replay`, so the update is compiled
    and has run), replay sizes and the networks timed (label -> torso options)."""

    steps: int
    warmup: int
    min_replay: int
    replay_capacity: int
    networks: dict[str, dict]


FULL = Scale(
    int(os.environ.get("BENCH_STEPS", 200)),
    600,
    400,
    20_000,
    {
        "DQN Nature CNN": {"torso": "nature_cnn", "width": 1.0},
        "DQN Impala x3": {"torso": "impala", "width": 3.0},
    },
)
TINY = Scale(8, 60, 40, 1_000, {"DQN Nature CNN x0.25": {"torso": "nature_cnn", "width": 0.25}})
SEEDS = int(os.environ.get("BENCH_SEEDS", 1))


def runner_for(network: dict, scale: Scale):
    spec = TrainSpec(
        "dqn",
        "ALE/Pong-v5",
        seeds=SEEDS,
        steps=100_000,
        agent_options={
            **network,
            "min_replay": scale.min_replay,
            "replay_capacity": scale.replay_capacity,
        },
    )
    plan = resolve(spec)
    params = plan.param_shapes[ONLINE]
    return make_runner(plan), sum(x.size for x in jax.tree.leaves(params))


def timed(seconds: dict, label: str, fn):
    """`fn` that adds its blocking wall time to `seconds[label]`."""

    def call(*args):
        start = time.perf_counter()
        out = jax.block_until_ready(fn(*args))
        seconds[label] += time.perf_counter() - start
        return out

    return call


def measure(network: dict, scale: Scale) -> dict:
    runner, parameters = runner_for(network, scale)
    runner.advance(0, scale.warmup)
    seconds = collections.defaultdict(float)
    program = runner.program
    # cached_property values live in the instance dict: wrap the compiled pieces in place
    for name, label in (("compiled_act", "act"), ("compiled_store", "store")):
        program.__dict__[name] = timed(seconds, label, getattr(program, name))
    program.__dict__["compiled_learn"] = timed(seconds, "update", program.compiled_learn)
    runner.vector.step = timed(seconds, "env", runner.vector.step)
    steps = scale.steps
    start = time.perf_counter()
    runner.advance(scale.warmup, steps)
    total = time.perf_counter() - start
    runner.close()
    updates = steps // runner.period
    return {
        "parameters": parameters,
        "steps/s": steps / total,
        "env ms/step": 1e3 * seconds["env"] / steps,
        "act ms/step": 1e3 * seconds["act"] / steps,
        "store ms/step": 1e3 * seconds["store"] / steps,
        "ms/update": 1e3 * seconds["update"] / updates,
        "update share": seconds["update"] / total,
        "env share": seconds["env"] / total,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="8 steps, Nature CNN x0.25")
    scale = TINY if parser.parse_args(argv).tiny else FULL
    rows = {name: measure(network, scale) for name, network in scale.networks.items()}
    device = jax.devices()[0]
    print(
        f"Pong, {SEEDS} seed(s) vmapped, {scale.steps} agent steps timed after {scale.warmup} "
        "warm-up, "
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
