"""Cost of a masked training step and of a topology update, relative to a dense step.

Workload (issue #2): MLP 4 -> 256 -> 256 -> 2, batch 128, Adam, MSE regression, on the CPU.
Each variant runs `STEPS` optimizer steps inside one jitted `lax.scan`; variants are measured
interleaved, `REPEATS` times, and the median is reported, so the ratios come from one run.

    .venv/bin/python benchmarks/sparsity_step.py
    .venv/bin/python benchmarks/sparsity_step.py --tiny   # seconds: 2 steps, 1 repeat

`--tiny` times one variant of each kind (TINY_VARIANTS): the plain step, a masked step and a
topology update.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax
import jax.numpy as jnp
import optax
from workload import MLP, regression_batch

import sparserl.sparsity as sp

STEPS = int(os.environ.get("BENCH_STEPS", 2000))
REPEATS = int(os.environ.get("BENCH_REPEATS", 7))
INTERVAL = 1000
TINY_VARIANTS = ("dense (plain optax)", "rigl 90%, update every 1000", "rigl topology update alone")


def build(method: sp.SparseMethod | None, masked_optimizer: bool, steps: int):
    """A jitted function running STEPS training steps from a fresh state."""
    net = MLP()
    x, y = regression_batch()
    params = net.init(jax.random.key(0), x)
    opt = sp.masked(optax.adam(1e-3)) if masked_optimizer else optax.adam(1e-3)
    if method is None:
        state = None
    else:
        params, state = method.init(params, jax.random.key(2))
    opt_state = opt.init(params)

    def loss(p):
        return jnp.mean((net.apply(p, x) - y) ** 2)

    def step(carry, t):
        p, o, st = carry
        g = jax.grad(loss)(p)
        if method is None:
            u, o = opt.update(g, o, p)
            return (optax.apply_updates(p, u), o, st), None
        u, o = opt.update(g, o, p, masks=st.masks)
        p = optax.apply_updates(p, u)
        return method.update(st, p, o, g, t), None

    @jax.jit
    def run(carry):
        return jax.lax.scan(step, carry, jnp.arange(1, steps + 1))[0]

    carry = (params, opt_state, state)
    jax.block_until_ready(run(carry))  # compile
    return lambda: jax.block_until_ready(run(carry))


def build_topology_update(method: sp.SparseMethod):
    """A jitted function doing just the topology update (drop + grow + moment reset)."""
    net = MLP()
    x = jnp.ones((128, 4))
    params, state = method.init(net.init(jax.random.key(0), x), jax.random.key(2))
    opt = sp.masked(optax.adam(1e-3))
    o = opt.init(params)
    grads = jax.tree.map(jnp.ones_like, params)
    fn = jax.jit(lambda s, p, o, g: method.update(s, p, o, g, INTERVAL))
    jax.block_until_ready(fn(state, params, o, grads))
    return lambda: jax.block_until_ready(fn(state, params, o, grads))


def time_it(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="2 steps, 1 repeat, 3 variants")
    tiny = parser.parse_args(argv).tiny
    steps, repeats = (2, 1) if tiny else (STEPS, REPEATS)
    kw = dict(sparsity=0.9, total_steps=steps * 10, update_interval=INTERVAL)
    builders = {  # name -> () -> (compiled function, steps it runs)
        "dense (plain optax)": lambda: (build(None, False, steps), steps),
        "dense method + masked optimizer": lambda: (build(sp.Dense(), True, steps), steps),
        "static 90% (masked step)": lambda: (build(sp.Static(sparsity=0.9), True, steps), steps),
        "set 90%, update every 1000": lambda: (build(sp.SET(**kw), True, steps), steps),
        "rigl 90%, update every 1000": lambda: (build(sp.RigL(**kw), True, steps), steps),
        "ds (er, eta 0.05), every 1000": lambda: (
            build(sp.DynamicSparse(sparsity=0.9), True, steps),
            steps,
        ),
        "rigl topology update alone": lambda: (build_topology_update(sp.RigL(**kw)), 1),
        "set topology update alone": lambda: (build_topology_update(sp.SET(**kw)), 1),
    }
    variants = {name: builders[name]() for name in (TINY_VARIANTS if tiny else builders)}
    samples = {name: [] for name in variants}
    for _ in range(repeats):
        for name, (fn, n) in variants.items():
            samples[name].append(time_it(fn) / n)
    per_step = {name: statistics.median(s) for name, s in samples.items()}
    dense = per_step["dense (plain optax)"]
    print(
        f"MLP 4-256-256-2, batch 128, Adam; {steps} steps x {repeats} repeats, median; "
        f"jax {jax.__version__} on {jax.devices()[0].platform}"
    )
    print(f"{'variant':<34} {'us/step':>9} {'x dense':>8}")
    for name, t in per_step.items():
        print(f"{name:<34} {t * 1e6:>9.1f} {t / dense:>8.3f}")
    for kind in ("rigl", "set"):
        update = per_step.get(f"{kind} topology update alone")
        if update is None:  # not timed by --tiny
            continue
        share = update / INTERVAL / dense
        print(f"{kind} update amortised over {INTERVAL} steps: {share:.2%} of a dense step")


if __name__ == "__main__":
    main()
