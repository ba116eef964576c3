"""The plan is resolved once: budgets, presets, networks and shape traces are computed per
grid level (shared by its seeds), never again by training or sweeps; the grid expansion is
the one sweeps name their runs by."""

import dataclasses
import sys

import jax
import pytest

import sparserl.agents
import sparserl.experiment.spec as spec_module
from sparserl.experiment import ONLINE, TrainSpec, grid_points, resolve, run_id
from sparserl.sweeps import planned_runs
from sparserl.train import train

SMALL = {
    "hidden": (8,),
    "batch_size": 8,
    "min_replay": 64,
    "target_update_period": 20,
    "replay_capacity": 100,
}
GRID = TrainSpec(
    "dqn",
    "CartPole-v1",
    method="rigl",
    sparsities=(0.5, 0.8),
    seeds=2,
    steps=100,
    eval_interval=100,
    eval_episodes=1,
    agent_options=SMALL,
)


def _counting(monkeypatch, owner, name: str, counts: dict[str, int]) -> None:
    """Count the calls of `owner.name` made by sparserl's code under `name` in `counts` (Flax
    traces shapes with eval_shape inside its own calls too)."""
    original = getattr(owner, name)

    def counted(*args, **kwargs):
        caller = sys._getframe(1).f_globals.get("__name__", "")
        counts[name] += caller.startswith("sparserl.")
        return original(*args, **kwargs)

    counts[name] = 0
    monkeypatch.setattr(owner, name, counted)


@pytest.fixture
def counts(monkeypatch):
    found: dict[str, int] = {}
    _counting(monkeypatch, spec_module, "agent_budget", found)
    _counting(monkeypatch, spec_module, "default_preset", found)
    _counting(monkeypatch, sparserl.agents.ValueAgent, "network", found)
    _counting(monkeypatch, jax, "eval_shape", found)
    return found


def test_a_2x2_grid_resolves_each_level_once_and_training_resolves_nothing(counts, tmp_path):
    plan = resolve(GRID)
    resolved = dict(counts)
    # One budget per sparsity level (2), one preset, one network module; eval_shape: the
    # parameter shapes (1), then per level the budget's layer positions (1; DQN's one
    # differentiated update pass is on the same inputs).
    assert resolved == {"agent_budget": 2, "default_preset": 1, "network": 1, "eval_shape": 3}
    # ERK over 4x8 and 8x2 (48 weights): budgets 32 - floor(0.5 * 32) + 16 - 8 = 24 at 0.5,
    # 7 + 4 = 11 at 0.8; eps (12 + 10) meets them: kept 13.09 and 10.91 -> zeros floor(18.9),
    # floor(5.09) leave 14 + 11 = 25; at 0.8 eps = 0.5: 6 + 5 = 11.
    assert [run.budget["weights"] for run in plan.runs] == [25, 25, 11, 11]
    assert plan.runs[0].budget is plan.runs[1].budget  # shared by the seeds of a level
    results = train(plan, tmp_path)
    # Training reads the plan: no budget, preset or shape is decided again. Two flax modules
    # are built while tracing (cheap: no shapes; those come from the plan): the program's, and
    # the evaluation action rule's (train.acting, shared with rundir's rebuilt policies).
    assert counts == {**resolved, "network": 3}
    assert [r.summary["parameters"] for r in results] == [25 + 8 + 2] * 2 + [11 + 8 + 2] * 2


def test_grid_counts_do_not_grow_with_seeds(counts):
    resolve(dataclasses.replace(GRID, seeds=1, sparsities=(0.5,)))
    one = dict(counts)
    assert one == {"agent_budget": 1, "default_preset": 1, "network": 1, "eval_shape": 2}


def test_runs_are_the_one_grid_in_order_seed_fastest():
    spec = dataclasses.replace(GRID, sweep={"learning_rate": (1e-3, 1e-2)})
    plan = resolve(spec)
    points = grid_points(spec)
    assert [r.point for r in plan.runs] == points
    assert [(p["sparsity"], p["learning_rate"], p["seed"]) for p in points[:3]] == [
        (0.5, 1e-3, 0),
        (0.5, 1e-3, 1),
        (0.5, 1e-2, 0),
    ]
    assert [r.run_id for r in plan.runs] == [run_id(plan.spec, p) for p in points]
    assert [r for _, r in planned_runs([spec])] == [r.run_id for r in plan.runs]
    assert [r.agent_config.learning_rate for r in plan.runs[:4]] == [1e-3, 1e-3, 1e-2, 1e-2]
    assert plan.runs[2].methods[ONLINE].sparsity == 0.5
    assert plan.runs[4].methods[ONLINE].sparsity == 0.8
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.runs[0].run_id = "other"
