"""What a training invocation asks for, validated on the host before anything compiles."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import jax
import jax.numpy as jnp

from sparserl.agents import SWEEPABLE, ValueAgent, make_agent
from sparserl.envs import JaxEnv, make_env
from sparserl.nets import matched_width
from sparserl.sparsity import METHODS, SparseMethod, make_method
from sparserl.train.accounting import network_budget
from sparserl.train.errors import TrainConfigError

EVALUATIONS_BY_DEFAULT = 50  # the final score averages the last 10% of them: 5


@dataclasses.dataclass(frozen=True)
class TrainSpec:
    """One agent on one environment with one sparse method over a grid of runs.

    The grid is sparsity levels x swept hyper-parameter values x seeds; all of it runs as one
    vmapped program.
    """

    agent: str
    env: str
    method: str = "dense"
    sparsities: tuple[float, ...] = ()  # empty: the method's default (none for dense)
    seeds: int = 1
    steps: int = 100_000
    eval_interval: int | None = None  # env steps; None: steps / 50
    eval_episodes: int = 10
    preset: str | None = None
    agent_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    method_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    sweep: dict[str, tuple[float, ...]] = dataclasses.field(default_factory=dict)
    # Parameter-matched dense (Graesser et al. 2022): a dense network whose width gives it the
    # parameter count of the default network at this sparsity (ERK unless method_options say).
    match_sparsity: float | None = None


@dataclasses.dataclass(frozen=True)
class ResolvedSpec:
    """A checked spec with its built environment, agent, method and schedule."""

    spec: TrainSpec
    env: JaxEnv
    agent: ValueAgent
    method: SparseMethod
    phases: tuple[SparseMethod, ...]  # (method,) or (prune, lottery) for a lottery rewind
    eval_interval: int
    total_updates: int

    def grid(self) -> list[dict[str, Any]]:
        """Every run of the group: sparsity, swept values and seed (seed varies fastest)."""
        levels = self.spec.sparsities or (None,)
        names = list(self.spec.sweep)
        combos = itertools.product(*(self.spec.sweep[n] for n in names))
        points = []
        for level, combo in itertools.product(levels, list(combos)):
            for seed in range(self.spec.seeds):
                points.append(
                    {"sparsity": level, **dict(zip(names, combo, strict=True)), "seed": seed}
                )
        return points


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise TrainConfigError(f"{name} must be a positive integer, got {value!r}")
    return value


def resolve(spec: TrainSpec) -> ResolvedSpec:
    """Check every setting and build the pieces; raises before any compilation."""
    steps = _positive_int("steps", spec.steps)
    _positive_int("seeds", spec.seeds)
    _positive_int("eval_episodes", spec.eval_episodes)
    env = make_env(spec.env)
    agent = make_agent(spec.agent, env, spec.preset, spec.agent_options)
    if spec.match_sparsity is not None:
        agent = _parameter_matched(spec, env, agent)
    cfg = agent.config
    period, updates = cfg.update_schedule()
    if steps % period:
        raise TrainConfigError(f"steps {steps} must be a multiple of the update period {period}")
    interval = spec.eval_interval
    if interval is None:
        interval = max(period, steps // EVALUATIONS_BY_DEFAULT // period * period)
        while steps % interval:
            interval -= period
    _positive_int("eval_interval", interval)
    if interval > steps:
        raise TrainConfigError(
            f"evaluation interval {interval} is longer than the run ({steps} steps); "
            f"choose an interval in [1, {steps}]"
        )
    if interval % period or steps % interval:
        raise TrainConfigError(
            f"evaluation interval {interval} must be a multiple of the update period {period} "
            f"and divide steps {steps}"
        )
    if cfg.target_update_period % period:
        raise TrainConfigError(
            f"target_update_period {cfg.target_update_period} must be a multiple of the "
            f"update period {period}"
        )
    if cfg.min_replay >= steps:
        raise TrainConfigError(
            f"min_replay {cfg.min_replay} >= steps {steps}: the agent would never learn"
        )
    if cfg.min_replay < cfg.batch_size + cfg.n_step:
        raise TrainConfigError(
            f"min_replay {cfg.min_replay} must be at least batch_size + n_step "
            f"({cfg.batch_size + cfg.n_step}) so the first batch has valid transitions"
        )
    for name, values in spec.sweep.items():
        if name not in SWEEPABLE:
            raise TrainConfigError(
                f"{name!r} cannot be swept inside one program; sweepable: {list(SWEEPABLE)}"
            )
        if not values:
            raise TrainConfigError(f"sweep over {name!r} has no values")
        bad = [v for v in values if isinstance(v, bool) or not isinstance(v, (int, float))]
        if bad:
            raise TrainConfigError(f"sweep over {name!r} needs numbers, got {bad}")
    total_updates = (steps // period - cfg.first_learning_iteration()) * updates
    method, phases = _methods(spec, total_updates)
    return ResolvedSpec(spec, env, agent, method, phases, interval, total_updates)


def _parameter_matched(spec: TrainSpec, env: JaxEnv, agent: ValueAgent) -> ValueAgent:
    """The agent with the width whose dense network matches the sparse parameter count."""
    if spec.method != "dense":
        raise TrainConfigError(
            f"match_sparsity builds a parameter-matched dense baseline; it needs method "
            f"'dense', not {spec.method!r}"
        )
    if "width" in spec.agent_options:
        raise TrainConfigError("give either a width or match_sparsity, not both")
    distribution = spec.method_options.get("distribution", "erk")
    reference = make_method("static", sparsity=spec.match_sparsity, distribution=distribution)
    network = agent.network(env)
    params = jax.eval_shape(network.init, jax.random.key(0), jnp.zeros((1, *env.obs_shape)))
    target = network_budget(reference, network, params, env.obs_shape)["parameters"]
    width = matched_width(
        lambda w: dataclasses.replace(agent, config=agent.config.replace(width=w)).network(env),
        jnp.zeros((1, *env.obs_shape)),
        target,
    )
    return dataclasses.replace(agent, config=agent.config.replace(width=width))


def _methods(spec: TrainSpec, total_updates: int) -> tuple[SparseMethod, tuple]:
    if spec.method not in METHODS:
        raise TrainConfigError(f"unknown method {spec.method!r}; choose one of {list(METHODS)}")
    options = dict(spec.method_options)
    if spec.sparsities:
        options["sparsity"] = spec.sparsities[0]
    if spec.method == "lottery":
        # Lottery-ticket rewind (Obando-Ceron et al. 2024, Sec. 5.1): a Prune run finds the
        # masks, then the original initialisation is retrained under them.
        prune = make_method("prune", total_steps=total_updates, **options)
        shared = {k: v for k, v in options.items() if k in METHODS["lottery"].__dataclass_fields__}
        return make_method("lottery", **shared), (prune, make_method("lottery", **shared))
    if "total_steps" in METHODS[spec.method].__dataclass_fields__:
        options.setdefault("total_steps", total_updates)
    method = make_method(spec.method, **options)
    return method, (method,)
