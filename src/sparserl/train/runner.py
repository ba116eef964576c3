"""The one runner contract and the table from loop family to runner: `make_runner(plan)`
builds the runner of any plan, and `train` drives every runner the same way."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol

import jax
import jax.numpy as jnp

from sparserl.envs import GymnasiumEnv
from sparserl.experiment.plan import OFF_POLICY, ON_POLICY, ONLINE, VALUE_ATARI, VALUE_JAX, Plan
from sparserl.sparsity import SparseMethod
from sparserl.train.core.jax_env_runner import JaxEnvRunner
from sparserl.train.core.networks import NetState
from sparserl.train.core.point import RunPoint
from sparserl.train.core.probing import compiled_diagnostics
from sparserl.train.off_policy.program import OffPolicyProgram
from sparserl.train.off_policy.runner import OffPolicyHostRunner
from sparserl.train.on_policy.program import OnPolicyProgram
from sparserl.train.on_policy.runner import OnPolicyHostRunner
from sparserl.train.value_atari.program import ValueAtariProgram
from sparserl.train.value_atari.runner import ValueAtariRunner
from sparserl.train.value_jax.program import ValueProgram
from sparserl.train.value_jax.runner import ValueRunner
from sparserl.types import PyTree


class Runner(Protocol):
    """A compiled grid of runs driven chunk by chunk. Building it (`make_runner`) initialises
    every run; `chunk(i)` trains evaluation interval i and returns its metrics (one value per
    run); `checkpoint()` is the device state a checkpoint saves and `restore` continues from
    it at chunk `next_chunk`; `networks()` are the runs' networks, batched over the grid
    (leading axis = run index); `evaluation()` is what the last evaluation drew from besides
    the networks (its key, PPO's observation normaliser), saved with them so that a finished
    run can be re-evaluated exactly; `close()` releases environments."""

    def chunk(self, index: int) -> dict[str, Any]: ...

    def checkpoint(self) -> dict[str, PyTree]: ...

    def restore(self, state: dict[str, PyTree], next_chunk: int) -> None: ...

    def networks(self) -> dict[str, NetState]: ...

    def evaluation(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


@dataclasses.dataclass(frozen=True)
class Loop:
    """A loop family: `program(plan, methods)` builds its compiled program for one phase's
    per-network methods; `runner(plan, program, points)` drives it over the batched runs."""

    program: Callable[[Plan, dict[str, SparseMethod]], Any]
    runner: Callable[[Plan, Any, RunPoint], Runner]


def _seeds(plan: Plan) -> list[int]:
    return [run.seed for run in plan.runs]


def _value_program(program_cls: type) -> Callable[[Plan, dict[str, SparseMethod]], Any]:
    def build(plan: Plan, methods: dict[str, SparseMethod]) -> Any:
        spec = plan.spec
        return program_cls(
            plan.agent, plan.env, methods[ONLINE], spec.eval_episodes, compiled_diagnostics(plan)
        )

    return build


def _actor_critic_program(program_cls: type) -> Callable[[Plan, dict[str, SparseMethod]], Any]:
    def build(plan: Plan, methods: dict[str, SparseMethod]) -> Any:
        spec = plan.spec
        return program_cls(
            plan.agent,
            plan.env,
            tuple(methods.items()),
            spec.eval_episodes,
            spec.steps,
            compiled_diagnostics(plan),
        )

    return build


def _value_jax_runner(plan: Plan, program: ValueProgram, points: RunPoint) -> Runner:
    return ValueRunner(program, points, plan.eval_interval)


def _value_atari_runner(plan: Plan, program: ValueAtariProgram, points: RunPoint) -> Runner:
    return ValueAtariRunner(program, points, plan.eval_interval, _seeds(plan))


def _actor_critic_runner(host_runner: type) -> Callable[[Plan, Any, RunPoint], Runner]:
    """An actor-critic family's runner: the program stepped in JAX (gymnax environments) or
    by the host (gymnasium)."""

    def build(plan: Plan, program: Any, points: RunPoint) -> Runner:
        if isinstance(plan.env, GymnasiumEnv):
            return host_runner(program, points, plan.eval_interval, _seeds(plan))
        return JaxEnvRunner(program, points, plan.eval_interval)

    return build


LOOPS: dict[str, Loop] = {
    VALUE_JAX: Loop(_value_program(ValueProgram), _value_jax_runner),
    VALUE_ATARI: Loop(_value_program(ValueAtariProgram), _value_atari_runner),
    OFF_POLICY: Loop(
        _actor_critic_program(OffPolicyProgram), _actor_critic_runner(OffPolicyHostRunner)
    ),
    ON_POLICY: Loop(
        _actor_critic_program(OnPolicyProgram), _actor_critic_runner(OnPolicyHostRunner)
    ),
}


def run_points(plan: Plan, phase: int = 0, masks: dict[str, PyTree] | None = None) -> RunPoint:
    """The plan's runs stacked into one batched RunPoint for phase `phase`: seeds, mask
    kept-weight counts, swept values, and given masks (a lottery rewind's second phase)."""
    runs = plan.runs
    counts = [run.counts[phase] for run in runs]
    return RunPoint(
        key=jnp.stack([jax.random.key(run.seed) for run in runs]),
        counts=jax.tree.map(lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]), *counts),
        learning_rate=jnp.asarray([r.agent_config.learning_rate for r in runs], jnp.float32),
        weight_decay=jnp.asarray([r.agent_config.weight_decay for r in runs], jnp.float32),
        gamma=jnp.asarray([r.agent_config.gamma for r in runs], jnp.float32),
        masks=masks,
    )


def make_program(plan: Plan, phase: int = 0) -> Any:
    """The compiled program of phase `phase` of the plan's loop family (its jitted pieces
    compile on first use and are shared by every runner built on it)."""
    return LOOPS[plan.family].program(plan, plan.phases[phase])


def make_runner(
    plan: Plan, phase: int = 0, masks: dict[str, PyTree] | None = None, program: Any = None
) -> Runner:
    """A fresh runner of phase `phase` of the plan's grid, every run initialised; on
    `program` (from `make_program`) if given, else on a new one."""
    program = make_program(plan, phase) if program is None else program
    return LOOPS[plan.family].runner(plan, program, run_points(plan, phase, masks))
