"""The resolved plan of a training invocation: everything `resolve` decides, once, for every
run of the grid. Training (programs, runners, outputs) and sweeps only read it."""

from __future__ import annotations

import dataclasses
from typing import Any

from sparserl.experiment.grid import GridPoint
from sparserl.experiment.split import split_sparsities
from sparserl.sparsity import SparseMethod, kernel_shapes
from sparserl.types import PyTree

# The loop families: who steps the environment and which program learns. One runner builder
# per family (`sparserl.train.runner.LOOPS`).
VALUE_JAX = "value_jax"  # value agents on JAX (gymnax) environments: the whole loop compiled
VALUE_ATARI = "value_atari"  # value agents on host-stepped Atari games
OFF_POLICY = "off_policy"  # SAC / TD3, on JAX or gymnasium environments
ON_POLICY = "on_policy"  # PPO, on JAX or gymnasium environments
FAMILIES = (VALUE_JAX, VALUE_ATARI, OFF_POLICY, ON_POLICY)
# The name of a value agent's one network.
ONLINE = "online"


@dataclasses.dataclass(frozen=True)
class RunPlan:
    """One run of the grid, fully decided: its grid point and directory name, the agent
    config it trains (swept values applied), the sparse method of every network at its level,
    the exact per-layer counts its masks start from, and its budget table."""

    index: int  # position in the grid: the run's index on the leading axis of batched state
    run_id: str
    point: GridPoint
    agent_config: Any
    methods: dict[str, SparseMethod]  # network -> method of the last phase at this level
    # Per phase, network -> int32 tree like the params: kept weights per sparse kernel.
    counts: tuple[dict[str, PyTree], ...]
    budget: dict[str, Any]  # accounting.budget_of: layers, counts, parameters, FLOPs

    @property
    def seed(self) -> int:
        return self.point["seed"]

    @property
    def sparsity(self) -> float | None:
        return self.point["sparsity"]


@dataclasses.dataclass(frozen=True)
class Plan:
    """A checked TrainSpec with its environment, agent, loop family, schedule, the programs'
    per-network methods for each phase, parameter shapes and every run of the grid.

    `phases[i]` are the methods phase i's compiled program runs for every run of the group:
    a run's own level reaches it through its `counts`, so their `sparsity` fields hold the
    first level and matter only for the runs' `methods`. One phase, or (prune, lottery) for a
    lottery rewind of a value agent.
    """

    spec: Any  # TrainSpec, with its method filled in
    env: Any  # JaxEnv, GymnasiumEnv or AtariEnv
    agent: Any  # ValueAgent, OffPolicyAgent or PPO
    family: str  # one of FAMILIES
    preset: str  # the agent preset in use (named or the environment's default)
    eval_interval: int
    total_updates: int  # optimizer steps of the (critic) network over the run
    modules: dict[str, Any]  # network -> its Flax module
    example_inputs: dict[str, tuple[Any, ...]]  # network -> one-example inputs
    param_shapes: dict[str, PyTree]  # network -> jax.ShapeDtypeStruct tree of its params
    phases: tuple[dict[str, SparseMethod], ...]
    runs: tuple[RunPlan, ...]

    @property
    def networks(self) -> tuple[str, ...]:
        """The agent's network names: ("online",) for a value agent."""
        return tuple(self.param_shapes)

    @property
    def methods(self) -> dict[str, SparseMethod]:
        """Each network's method in the last phase's program."""
        return self.phases[-1]

    @property
    def levels(self) -> tuple[float | None, ...]:
        """The grid's sparsity levels, (None,) without any."""
        return self.spec.sparsities or (None,)

    @property
    def kernel_shapes(self) -> dict[str, dict[str, tuple[int, ...]]]:
        """Network -> layer name -> kernel shape."""
        return {name: kernel_shapes(shapes) for name, shapes in self.param_shapes.items()}

    def phases_at(self, level: float | None) -> tuple[dict[str, SparseMethod], ...]:
        """Each phase's per-network methods at grid level `level`: the level itself, or the
        actor:critic split of one budget, unless a network's own options fix its sparsity."""
        if level is None:
            return self.phases
        if self.spec.actor_fraction is not None:
            last = self.phases[-1]
            levels = split_sparsities(last, self.kernel_shapes, level, self.spec.actor_fraction)
        else:
            own = self.spec.network_options
            levels = {n: own.get(n, {}).get("sparsity", level) for n in self.networks}
        return tuple(
            {
                name: method
                if levels[name] is None
                else dataclasses.replace(method, sparsity=levels[name])
                for name, method in phase.items()
            }
            for phase in self.phases
        )
