"""sparserl's DQN on the peer harness's CartPole workloads, side by side with SB3 and rejax.

Workloads come from the peer harness (`/work/shared/peers/workloads.py`, override with
SPARSERL_PEERS): W1 is DQN on CartPole-v1, 1 seed, 50k env steps, MLP 2x256 ReLU, Adam 2.5e-4,
buffer 10k, batch 128, 1k warm-up steps, 1 gradient step per env step, hard target copy every
500 steps, ε 1 -> 0.05 over half the run, Huber loss, 10 evaluation episodes at the end. W2 is
W1 with `BENCH_W2_SEEDS` seeds (default 8) of `BENCH_W2_STEPS` steps (default 10k).
Variants, each compiled and run once in this process: dense and RigL 90% (method "rigl",
sparsity 0.9, topology update every 1000 updates until 80% of training) on W1 (1 seed) and on
W2 (all seeds vmapped in one program, as rejax does; SB3 runs them one after another).

Timing: the init and the training chunk (the whole run and the final evaluation, one program)
are compiled explicitly with `jax.jit(...).lower(...).compile()`; `compile s` is that, `run s`
is executing them up to `jax.block_until_ready`, env-steps/s = env steps over all seeds / run s
(excludes compilation, as rejax's numbers do) and `wall s` = compile + run. The final
evaluation (10 episodes side by side, at most 500 batched steps) is inside the run time; the
peers evaluate after timing. `x dense` is the run time over the dense variant's on the same
workload (RigL target <= 1.1).

FLOPs: per env step one acting forward, per update 3x the forward FLOPs on the batch (forward
+ backward) plus the target network's forward on next_obs, all with the DENSE forward FLOPs
(`network_budget`'s dense_inference_flops, 2 x weights per example): RigL's masked weights are
zeros that are still multiplied, so the executed work is dense. Evaluation, replay and
optimizer FLOPs are not counted (XLA's cost analysis of one dense update agrees: 70 MFLOP).
`% peak` compares with a jitted float32 matmul measured in the same process (1024^2 and
2048^2, median of 7 each, the faster size); the network's 256-wide matmuls stay in cache, so
on a busy machine the ratio can come out near or even above 100%.

Differences from the peers, by design: sparserl's ε schedule is Dopamine's (1.0 during the
1000 warm-up steps, then linear to 0.05 over the next half run) where SB3's is linear from
step 0; SB3 also clips gradients to norm 10 and evaluates greedily (sparserl ε_eval 0.001);
rejax uses an L2 loss. Adam's eps is set to the peers' 1e-8.

Order: the peers first (`run_peers.sh W1 W2`, their own processes, SB3 with 1 torch thread,
the harness default and its best setting on these machines), then the matmul peak, then the
sparserl variants. Every result is appended to one JSONL file with the harness's `emit`, and
the harness's table prints all of them with speed ratios to SB3.

    .venv/bin/python benchmarks/dqn_cartpole.py            # full: ~10 min peers + ~5 min ours
    .venv/bin/python benchmarks/dqn_cartpole.py --quick    # 5k steps, W2 with 2 seeds
    .venv/bin/python benchmarks/dqn_cartpole.py --no-peers
    .venv/bin/python benchmarks/dqn_cartpole.py --tiny     # seconds: the fast tests' check

`--tiny` needs no peer harness: one built-in workload (W1's settings at 300 steps, 2 seeds,
MLP 2x32), ours only, dense only (RigL takes the same path), nothing written.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

from sparserl.experiment import ONLINE, TrainSpec, network_budget, resolve
from sparserl.train import make_program, run_points
from sparserl.versions import versions

PEERS = Path(os.environ.get("SPARSERL_PEERS", "/work/shared/peers"))
QUICK = {"BENCH_W1_STEPS": "5000", "BENCH_W2_STEPS": "5000", "BENCH_W2_SEEDS": "2"}
METHODS = {"dense": ("dense", ()), "rigl 90%": ("rigl", (0.9,))}
TINY_METHODS = ("dense",)
# --tiny: the harness's W1 keys, scaled down to seconds (no peers needed).
TINY = {
    "env_id": "CartPole-v1",
    "total_timesteps": 300,
    "hidden": (32, 32),
    "activation": "relu",
    "learning_rate": 2.5e-4,
    "buffer_size": 1_000,
    "batch_size": 32,
    "gamma": 0.99,
    "learning_starts": 100,
    "train_freq": 1,
    "gradient_steps": 1,
    "target_update_interval": 50,
    "eps_start": 1.0,
    "eps_end": 0.05,
    "exploration_fraction": 0.5,
    "num_envs": 1,
    "eval_episodes": 1,
    "num_seeds": 2,
}


@dataclasses.dataclass
class Result:
    """One timed variant."""

    variant: str
    workload: str
    method: str
    seeds: int
    env_steps: int
    compile_s: float
    run_s: float
    flops: float  # executed training FLOPs, all seeds
    returns: list[float]

    @property
    def steps_per_s(self) -> float:
        return self.env_steps / self.run_s


def train_spec(cfg: dict[str, Any], method: str, sparsities: tuple, seeds: int) -> TrainSpec:
    """The harness's DQN workload `cfg` as a sparserl TrainSpec (one evaluation, at the end)."""
    steps = cfg["total_timesteps"]
    assert cfg["eps_start"] == 1.0 and cfg["activation"] == "relu" and cfg["num_envs"] == 1
    options = {
        "hidden": tuple(cfg["hidden"]),
        "learning_rate": cfg["learning_rate"],
        "adam_eps": 1e-8,  # torch's and optax's Adam default, as the peers use
        "replay_capacity": cfg["buffer_size"],
        "batch_size": cfg["batch_size"],
        "gamma": cfg["gamma"],
        "min_replay": cfg["learning_starts"],
        "replay_ratio": cfg["gradient_steps"] / cfg["train_freq"],
        "target_update_period": cfg["target_update_interval"],
        "epsilon_train": cfg["eps_end"],
        "epsilon_decay_steps": int(cfg["exploration_fraction"] * steps),
        "loss": "huber",
    }
    return TrainSpec(
        "dqn",
        cfg["env_id"],
        method=method,
        sparsities=sparsities,
        seeds=seeds,
        steps=steps,
        eval_interval=steps,
        eval_episodes=cfg["eval_episodes"],
        agent_options=options,
    )


def timed(fn, *args) -> tuple[Any, float]:
    """`fn(*args)` blocked until ready, and the seconds it took."""
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - start


def measure(variant: str, workload: str, spec: TrainSpec) -> Result:
    """Compile, then run, the whole training of `spec` (all seeds in one program)."""
    plan = resolve(spec)
    method = plan.methods[ONLINE]
    program = make_program(plan)
    params = program.example_params()
    points = run_points(plan)
    period, _ = plan.agent.config.update_schedule()
    iterations = spec.steps // period

    init, init_compile = timed(lambda: jax.jit(jax.vmap(program.init_run)).lower(points).compile())
    runs, init_run = timed(init, points)
    chunk_jit = jax.jit(program.chunk, static_argnums=(2,))
    start = jnp.int32(0)
    chunk, chunk_compile = timed(lambda: chunk_jit.lower(runs, start, iterations).compile())
    (_, metrics), chunk_run = timed(chunk, runs, start)

    cfg = plan.agent.config
    inputs = plan.example_inputs[ONLINE]
    forward = network_budget(method, plan.modules[ONLINE], params, inputs)["dense_inference_flops"]
    per_update = (3 + 1) * forward * cfg.batch_size  # fwd+bwd online, fwd target
    flops = spec.seeds * (spec.steps * forward + plan.total_updates * per_update)
    return Result(
        variant=variant,
        workload=workload,
        method=method.name,
        seeds=spec.seeds,
        env_steps=spec.seeds * spec.steps,
        compile_s=init_compile + chunk_compile,
        run_s=init_run + chunk_run,
        flops=float(flops),
        returns=[float(r) for r in metrics["eval_return"]],
    )


def matmul_peak(sizes: tuple[int, ...] = (1024, 2048), repeats: int = 7) -> float:
    """FLOP/s of a jitted n x n float32 matmul: the median of `repeats`, best over `sizes`."""
    best = 0.0
    for n in sizes:
        a, b = jax.random.normal(jax.random.key(0), (2, n, n), jnp.float32)
        matmul = jax.jit(jnp.matmul).lower(a, b).compile()
        jax.block_until_ready(matmul(a, b))
        seconds = statistics.median(timed(matmul, a, b)[1] for _ in range(repeats))
        best = max(best, 2 * n**3 / seconds)
    return best


def run_peers(out: Path) -> None:
    """The harness's W1 and W2 for every peer, appending to `out` (venvs set up if missing)."""
    env = {**os.environ, "BENCH_OUT": str(out)}
    env.setdefault("BENCH_TORCH_THREADS", "1")
    print(f"running peers: {PEERS / 'run_peers.sh'} W1 W2 (first time: ~3 min venv setup)")
    done = subprocess.run(
        [str(PEERS / "run_peers.sh"), "W1", "W2"], env=env, stdout=subprocess.PIPE, text=True
    )
    lines = done.stdout.strip().splitlines()
    print(f"run_peers.sh exited {done.returncode}: {lines[-1] if lines else 'no output'}")


def print_table(results: list[Result], peak: float) -> None:
    """sparserl's variants with speed relative to dense and FLOP utilisation."""
    dense = {r.workload: r.run_s for r in results if r.method == "dense"}
    head = (
        f"{'variant':<14} {'wl':<3} {'seeds':>5} {'env steps':>9} {'compile s':>9} {'run s':>7} "
        f"{'wall s':>7} {'env-steps/s':>11} {'x dense':>7} {'GFLOP/s':>8} {'% peak':>6} "
        f"{'return':>7}"
    )
    print(head)
    for r in results:
        gflops = r.flops / r.run_s / 1e9
        print(
            f"{r.variant:<14} {r.workload:<3} {r.seeds:>5} {r.env_steps:>9} {r.compile_s:>9.1f} "
            f"{r.run_s:>7.1f} {r.compile_s + r.run_s:>7.1f} {r.steps_per_s:>11.0f} "
            f"{r.run_s / dense[r.workload]:>7.2f} {gflops:>8.1f} {gflops * 1e9 / peak:>6.1%} "
            f"{statistics.mean(r.returns):>7.1f}"
        )


def emit_all(out: Path, emit, workloads: dict, results: list[Result]) -> None:
    """Append every sparserl result to the harness's JSONL file `out` with its `emit`."""
    for r in results:
        emit(
            out,
            peer="sparserl",
            workload=r.workload,
            algo="DQN" if r.method == "dense" else f"DQN {r.variant}",
            env=f"sparserl/{workloads[r.workload]['env_id']}",
            seeds=r.seeds,
            env_steps=r.env_steps,
            wall_s=r.compile_s + r.run_s,
            compile_s=r.compile_s,
            train_s=r.run_s,
            steps_per_s=r.steps_per_s,
            steps_per_s_wall=r.env_steps / (r.compile_s + r.run_s),
            final_return=statistics.mean(r.returns),
            per_seed_return=r.returns,
            notes=f"method {r.variant}, {r.seeds} seed(s) vmapped in one program, MLP 2x256 "
            "ReLU, Huber, Dopamine eps schedule, final evaluation inside the timed program",
            **versions(),
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5k steps, W2 with 2 seeds")
    parser.add_argument("--no-peers", action="store_true", help="only sparserl")
    parser.add_argument("--tiny", action="store_true", help="seconds, no peers, nothing written")
    parser.add_argument("--out", type=Path, help="JSONL file (default: a new one in /tmp)")
    args = parser.parse_args(argv)
    if args.tiny:
        workloads, emit, out = {"T": TINY}, None, None
    else:
        if args.quick:  # before importing workloads, which reads them; the peers inherit them
            for name, value in QUICK.items():
                os.environ.setdefault(name, value)
        sys.path.insert(0, str(PEERS))
        workloads = importlib.import_module("workloads").WORKLOADS
        workloads = {name: workloads[name] for name in ("W1", "W2")}
        emit = importlib.import_module("common").emit
        stamp = time.strftime("%Y%m%dT%H%M%S")
        out = args.out or Path(f"/tmp/sparserl_dqn_cartpole_{stamp}.jsonl")
        if not args.no_peers:
            run_peers(out)
    sizes, repeats = ((256,), 3) if args.tiny else ((1024, 2048), 7)
    peak = matmul_peak(sizes, repeats)
    results = []
    for workload, cfg in workloads.items():
        seeds = cfg.get("num_seeds", 1)
        for variant in TINY_METHODS if args.tiny else METHODS:
            method, sparsities = METHODS[variant]
            print(f"sparserl {workload} {variant}, {seeds} seed(s) ...", flush=True)
            spec = train_spec(cfg, method, sparsities, seeds)
            results.append(measure(variant, workload, spec))

    if emit is not None:
        emit_all(out, emit, workloads, results)
    print(
        f"\njax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} cores; "
        f"matmul peak {peak / 1e9:.1f} GFLOP/s (float32, "
        f"{' or '.join(f'{n}^2' for n in sizes)}, median of {repeats})"
    )
    print_table(results, peak)
    if emit is not None and not args.no_peers:
        print()
        subprocess.run([sys.executable, str(PEERS / "table.py"), str(out), "--ratio-to", "sb3"])
    if out is not None:
        print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
