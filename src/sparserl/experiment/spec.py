"""What a training invocation asks for, validated on the host before anything compiles."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax

from sparserl.agents import (
    SWEEPABLE,
    AgentConfigError,
    ValueAgent,
    default_preset,
    env_preset,
    make_agent,
    method_preset,
)
from sparserl.envs import AtariEnv, JaxEnv, make_env
from sparserl.experiment.accounting import agent_budget, network_budget
from sparserl.experiment.errors import TrainConfigError
from sparserl.experiment.grid import grid_points, run_id
from sparserl.experiment.plan import (
    OFF_POLICY,
    ON_POLICY,
    ONLINE,
    VALUE_ATARI,
    VALUE_JAX,
    Plan,
    RunPlan,
)
from sparserl.nets import matched_width
from sparserl.nets.width import parameter_count, width_for_parameter_count
from sparserl.replay.frames import STACK_SIZE
from sparserl.sparsity import METHODS, SparseMethod, make_method, option_names
from sparserl.types import PyTree
from sparserl.validation import check_number, non_negative, open_unit, positive

EVALUATIONS_BY_DEFAULT = 50  # the final score averages the last 10% of them: 5


@dataclasses.dataclass(frozen=True)
class TrainSpec:
    """One agent on one environment with one sparse method over a grid of runs.

    The grid is sparsity levels x swept hyper-parameter values x seeds; all of it runs as one
    vmapped program.
    """

    agent: str
    env: str
    method: str | None = None  # None: the preset's method (ds for td3's ds-td3), else dense
    sparsities: tuple[float, ...] = ()  # empty: the method's default (none for dense)
    seeds: int = 1
    steps: int = 100_000
    eval_interval: int | None = None  # env steps; None: steps / 50
    eval_episodes: int = 10
    preset: str | None = None
    agent_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Environment settings (envs.ENV_OPTIONS), over those of the preset (Atari 100k: no sticky
    # actions).
    env_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    method_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    sweep: dict[str, tuple[float, ...]] = dataclasses.field(default_factory=dict)
    # Parameter-matched dense (Graesser et al. 2022): a dense network whose width gives it the
    # parameter count of the default network at this sparsity (ERK unless method_options say).
    match_sparsity: float | None = None
    # Actor-critic agents: method options per network ({"actor": {...}, "critic": {...}},
    # "method" included), and the actor's share of one weight budget for both networks.
    network_options: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    actor_fraction: float | None = None
    # Save every run's networks after every k-th evaluation too (the final ones always).
    save_networks_every: int | None = None
    # The in-loop probe (analysis.probe): at every k-th evaluation (0: off), on a batch of this
    # many examples (None: the agent's training minibatch, see train.core.probing). Every 10th
    # by default (5 probes in the default 50 evaluations): its overhead on CPU is <= 5% of
    # training time there, not at every evaluation (benchmarks/diagnostics_cost.py, README).
    diagnostics_every: int = 10
    diagnostics_batch: int | None = None


def _positive_int(name: str, value: Any) -> int:
    return check_number(name, value, positive, TrainConfigError, integer=True)


def resolve(spec: TrainSpec) -> Plan:
    """Check every setting and decide every run of the grid (`Plan`); raises before any
    compilation."""
    steps = _positive_int("steps", spec.steps)
    _positive_int("seeds", spec.seeds)
    _positive_int("eval_episodes", spec.eval_episodes)
    if spec.save_networks_every is not None:
        _positive_int("save_networks_every", spec.save_networks_every)
    check_number(
        "diagnostics_every", spec.diagnostics_every, non_negative, TrainConfigError, integer=True
    )
    if spec.diagnostics_batch is not None:
        _positive_int("diagnostics_batch", spec.diagnostics_batch)
    env = make_env(spec.env, {**env_preset(spec.agent, spec.preset), **spec.env_options})
    agent = make_agent(spec.agent, env, spec.preset, spec.agent_options)
    family = agent_family(agent, env)
    if family in (OFF_POLICY, ON_POLICY):
        return _with_runs(_resolve_actor_critic(spec, env, agent, family))
    spec = dataclasses.replace(spec, method=_check_method(spec.method or "dense"))
    if spec.network_options or spec.actor_fraction is not None:
        raise TrainConfigError(
            f"per-network options and actor_fraction are for actor-critic agents; "
            f"{spec.agent!r} has one network"
        )
    if spec.match_sparsity is not None:
        agent = _parameter_matched(spec, env, agent)
    cfg = agent.config
    if cfg.data_augmentation and len(env.obs_shape) != 3:
        raise TrainConfigError(
            f"data_augmentation shifts images, but {spec.env} has observations of shape "
            f"{env.obs_shape}; it needs [H, W, C] frames (Atari, MinAtar)"
        )
    period, updates = cfg.update_schedule()
    interval = _eval_interval(spec, steps, period)
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
    if family == VALUE_ATARI and cfg.replay_capacity < cfg.n_step + STACK_SIZE:
        raise TrainConfigError(
            f"replay_capacity {cfg.replay_capacity} must be at least n_step + {STACK_SIZE} "
            f"({cfg.n_step + STACK_SIZE}): frame replay rebuilds {STACK_SIZE}-frame stacks by index"
        )
    _check_sweep(spec, agent.config)
    total_updates = (steps // period - cfg.first_learning_iteration()) * updates
    phases = _methods(spec, total_updates)
    network = agent.network(env)
    plan = Plan(
        spec=spec,
        env=env,
        agent=agent,
        family=family,
        preset=spec.preset or default_preset(spec.agent, env),
        eval_interval=interval,
        total_updates=total_updates,
        modules={ONLINE: network},
        example_inputs={ONLINE: agent.example_inputs(env.obs_shape)},
        param_shapes={},
        phases=tuple({ONLINE: method} for method in phases),
        runs=(),
    )
    return _with_runs(_with_param_shapes(plan))


def agent_family(agent: Any, env: Any) -> str:
    """The loop family that trains `agent` on `env` (the one place that decides it): the
    family the agent declares (agents.FAMILIES), and for value agents the environment's kind
    (a compiled loop on JAX environments, host-stepped games on Atari)."""
    if agent.family == "value":
        return VALUE_ATARI if isinstance(env, AtariEnv) else VALUE_JAX
    return {"off_policy": OFF_POLICY, "on_policy": ON_POLICY}[agent.family]


def _with_param_shapes(plan: Plan) -> Plan:
    """The plan with the parameter shapes of every network (traced, nothing computed)."""
    key = jax.random.key(0)
    shapes = {
        name: jax.eval_shape(module.init, key, *plan.example_inputs[name])
        for name, module in plan.modules.items()
    }
    return dataclasses.replace(plan, param_shapes=shapes)


def _with_runs(plan: Plan) -> Plan:
    """The plan with every run of its grid: methods, kept-weight counts and budget of each level
    decided once and shared by the runs at that level."""
    levels = {}
    for level in plan.levels:
        phases = plan.phases_at(level)
        counts = tuple(
            {name: method.kept_counts(plan.param_shapes[name]) for name, method in phase.items()}
            for phase in phases
        )
        levels[level] = (phases[-1], counts, agent_budget(plan, level))
    runs = []
    for index, point in enumerate(grid_points(plan.spec)):
        methods, counts, budget = levels[point["sparsity"]]
        config = plan.agent.config.replace(**{k: point[k] for k in plan.spec.sweep})
        runs.append(
            RunPlan(index, run_id(plan.spec, point), point, config, methods, counts, budget)
        )
    return dataclasses.replace(plan, runs=tuple(runs))


def _eval_interval(
    spec: TrainSpec, steps: int, period: int, period_name: str = "update period"
) -> int:
    """The evaluation interval: given, or about steps / 50, a multiple of `period` that
    divides `steps`."""
    if steps % period:
        below = steps // period * period
        nearest = f"{below} or {below + period}" if below else f"{period}"
        raise TrainConfigError(
            f"steps {steps} must be a multiple of the {period_name} {period}; nearest: {nearest}"
        )
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
            f"evaluation interval {interval} must be a multiple of the {period_name} {period} "
            f"and divide steps {steps}"
        )
    return interval


def _check_sweep(spec: TrainSpec, config: Any) -> None:
    """Swept values: each once, each a value the agent's `config` accepts for that option."""
    for name, values in spec.sweep.items():
        if name not in SWEEPABLE:
            raise TrainConfigError(
                f"{name!r} cannot be swept inside one program; sweepable: {list(SWEEPABLE)}"
            )
        if not values:
            raise TrainConfigError(f"sweep over {name!r} has no values")
        repeated = [v for i, v in enumerate(values) if v in values[:i]]
        if repeated:
            raise TrainConfigError(f"sweep over {name!r} lists {repeated} more than once")
        for value in values:
            try:
                config.replace(**{name: value})
            except AgentConfigError as error:
                raise TrainConfigError(f"sweep over {name!r}: {error}") from None


def _check_match(spec: TrainSpec, method: str | None) -> SparseMethod:
    """The reference sparse method a parameter-matched dense baseline is sized against."""
    if (method or "dense") != "dense":
        raise TrainConfigError(
            f"match_sparsity builds a parameter-matched dense baseline; it needs method "
            f"'dense', not {method!r}"
        )
    if "width" in spec.agent_options:
        raise TrainConfigError("give either a width or match_sparsity, not both")
    distribution = spec.method_options.get("distribution", "erk")
    return make_method("static", sparsity=spec.match_sparsity, distribution=distribution)


def _parameter_matched(spec: TrainSpec, env: JaxEnv, agent: ValueAgent) -> ValueAgent:
    """The agent with the width whose dense network matches the sparse parameter count."""
    reference = _check_match(spec, spec.method)
    inputs = agent.example_inputs(env.obs_shape)
    network = agent.network(env)
    params = jax.eval_shape(network.init, jax.random.key(0), *inputs)
    target = network_budget(reference, network, params, inputs)["parameters"]

    def at_width(width: float) -> ValueAgent:
        return dataclasses.replace(agent, config=agent.config.replace(width=width))

    return at_width(matched_width(lambda w: at_width(w).network(env), inputs, target))


def _parameter_matched_actor_critic(spec: TrainSpec, env: Any, agent: Any, method: str) -> Any:
    """The agent with the one width at which its dense actor and critic together have the
    parameters of both networks at `match_sparsity` (each sparsified on its own)."""
    reference = _check_match(spec, method)
    inputs = agent.example_inputs(env.obs_shape)
    key = jax.random.key(0)

    def params_of(candidate: Any) -> dict[str, PyTree]:
        modules = candidate.networks
        return {n: jax.eval_shape(m.init, key, *inputs[n]) for n, m in modules.items()}

    target = sum(
        network_budget(reference, agent.networks[n], p, inputs[n])["parameters"]
        for n, p in params_of(agent).items()
    )

    def at_width(width: float) -> Any:
        return type(agent).for_env(agent.config.replace(width=width), env)

    def count(width: float) -> int:
        return sum(parameter_count(p) for p in params_of(at_width(width)).values())

    return at_width(width_for_parameter_count(count, target))


def _run_method_options(spec: TrainSpec) -> dict[str, Any]:
    """The method options of the run itself: with match_sparsity, `distribution` sized the
    sparse reference, not the dense network that trains."""
    options = dict(spec.method_options)
    if spec.match_sparsity is not None:
        options.pop("distribution", None)
    return options


# Method options the grid sets: the level from the spec's sparsities, the run length from its
# steps. A user's method options never name them.
GRID_OPTIONS = ("sparsity", "total_steps")


def _check_user_options(method: str, options: dict[str, Any], where: str = "") -> None:
    """Refuse options of `method` that it lacks or that the grid sets, naming the options a
    user may give it."""
    allowed = [f for f in option_names(method) if f not in GRID_OPTIONS]
    unknown = [k for k in options if k not in allowed]
    if unknown:
        raise TrainConfigError(
            f"{where}method {method!r} has no option(s) {unknown}; its options are {allowed} "
            "(the level comes from the sparsities, the run length from the steps)"
        )


def _check_method(name: str) -> str:
    if name not in METHODS:
        raise TrainConfigError(f"unknown method {name!r}; choose one of {list(METHODS)}")
    return name


def _methods(spec: TrainSpec, total_updates: int) -> tuple[SparseMethod, ...]:
    """The value agent's method of each phase, at the grid's first level."""
    options = _run_method_options(spec)
    _check_user_options(spec.method, options)
    if spec.sparsities:
        options["sparsity"] = spec.sparsities[0]
    if spec.method == "lottery":
        # Lottery-ticket rewind (Obando-Ceron et al. 2024, Sec. 5.1): a Prune run finds the
        # masks, then the original initialisation is retrained under them.
        prune = make_method("prune", total_steps=total_updates, **options)
        shared = {k: v for k, v in options.items() if k in METHODS["lottery"].__dataclass_fields__}
        return prune, make_method("lottery", **shared)
    if "total_steps" in METHODS[spec.method].__dataclass_fields__:
        options.setdefault("total_steps", total_updates)
    return (make_method(spec.method, **options),)


def _resolve_actor_critic(spec: TrainSpec, env: Any, agent: Any, family: str) -> Plan:
    """Checks and pieces of a SAC / TD3 / PPO run: one sparse method per network."""
    steps = spec.steps
    period_name = "update period" if agent.update_period == 1 else "rollout size"
    interval = _eval_interval(spec, steps, agent.update_period, period_name)
    if family == OFF_POLICY and agent.config.learning_starts >= steps:
        raise TrainConfigError(
            f"learning_starts {agent.config.learning_starts} >= steps {steps}: "
            "the agent would never learn"
        )
    rollout = agent.update_period
    if family == ON_POLICY and (spec.diagnostics_batch or 0) > rollout:
        raise TrainConfigError(
            f"diagnostics_batch {spec.diagnostics_batch} is larger than the rollout the probe "
            f"draws it from (num_envs * num_steps = {rollout}); choose one in [1, {rollout}]"
        )
    names = agent.network_names  # the agent's data (agents.register_agent)
    unknown = [n for n in spec.network_options if n not in names]
    if unknown:
        raise TrainConfigError(f"unknown network(s) {unknown}; choose from {list(names)}")
    _check_sweep(spec, agent.config)
    preset = method_preset(spec.agent, spec.preset, spec.env) or {}
    default = _check_method(spec.method or preset.get("method", "dense"))
    spec = dataclasses.replace(spec, method=default)
    if spec.match_sparsity is not None:
        agent = _parameter_matched_actor_critic(spec, env, agent, default)
    if default == "lottery":
        raise TrainConfigError("the lottery rewind is implemented for value-based agents only")
    updates = agent.total_updates(steps)
    networks = {}
    for name in names:
        own = dict(spec.network_options.get(name, {}))
        method = _check_method(own.pop("method", default))
        _check_user_options(method, {**spec.method_options, **own}, f"{name}: ")
        fields = METHODS[method].__dataclass_fields__
        options = {
            k: v
            for k, v in {
                **preset.get("options", {}),
                **preset.get("networks", {}).get(name, {}),
            }.items()
            if k in fields
        }
        options.update(_run_method_options(spec))
        options.update(own)
        if spec.sparsities and "sparsity" not in own:
            # With ER lambdas (the ds-td3 preset's or the user's) a level scales them together
            # until the network meets it: Sokar et al. 2022 (Sec. 4.2) set the level through them.
            options["sparsity"] = spec.sparsities[0]
        if "total_steps" in fields:
            options.setdefault("total_steps", max(updates[name], 1))
        networks[name] = make_method(method, **options)
    plan = Plan(
        spec=spec,
        env=env,
        agent=agent,
        family=family,
        preset=spec.preset or default_preset(spec.agent, env),
        eval_interval=interval,
        total_updates=updates["critic"],
        modules=dict(agent.networks),
        example_inputs=agent.example_inputs(env.obs_shape),
        param_shapes={},
        phases=(networks,),
        runs=(),
    )
    plan = _with_param_shapes(plan)
    if spec.actor_fraction is not None:
        _check_split(spec, networks)
    for level in plan.levels:
        # Raises now, not at the first compile, if a split does not fit or an ER lambda is
        # too large for its layer.
        for name, method in plan.phases_at(level)[-1].items():
            method.layer_counts(plan.kernel_shapes[name])
    return plan


def _check_split(spec: TrainSpec, networks: dict[str, SparseMethod]) -> None:
    check_number("actor_fraction", spec.actor_fraction, open_unit, TrainConfigError)
    for name, method in networks.items():
        if not hasattr(method, "sparsity"):
            raise TrainConfigError(
                f"actor_fraction splits one sparsity budget; the {name}'s method "
                f"{method.name!r} has no sparsity level to set (use static, prune, set, rigl "
                "or ds)"
            )
    if not spec.sparsities:
        raise TrainConfigError("actor_fraction needs the total sparsity: give sparsities")
