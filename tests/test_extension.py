"""Open extension: a sparse method and a value agent defined here, in the test file only,
registered through the public registries, then trained by `train()` and by a sweep spec and
scored by the report: nothing under src/ names them."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from sparserl import results
from sparserl.agents import (
    AGENTS,
    AgentConfigError,
    ValueAgent,
    ValueConfig,
    agent_entry,
    make_agent,
    register_agent,
    unregister_agent,
)
from sparserl.cli import main
from sparserl.envs import make_env
from sparserl.experiment import TrainSpec
from sparserl.report import write_report
from sparserl.sparsity import (
    METHODS,
    MaskedMethod,
    SparsityConfigError,
    kernel_shapes,
    make_method,
    map_sparse_layers,
    register_method,
    top_k_mask,
    unregister_method,
)
from sparserl.sweeps import loads, run_sweep
from sparserl.train import train
from sparserl.validation import option, positive

# ---- a new sparse method: random swaps, with its own option and its own state -------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class RandomSwap(MaskedMethod):
    """Every `update_interval` optimizer steps, drop `swaps` active weights of each layer at
    random and grow as many at random; `extra["updates"]` counts the topology updates."""

    name: ClassVar[str] = "random-swap"
    evolves: ClassVar[bool] = True
    swaps: int = option(1, positive)
    update_interval: int = option(100, positive)

    def init_extra(self, params, masks):
        return {"updates": jnp.zeros((), jnp.int32)}

    def is_update_step(self, step):
        return jnp.asarray(step) % self.update_interval == 0

    def evolve(self, state, params, grads, step, key):
        def layer(i, mask, count):
            drop_key, grow_key = jax.random.split(jax.random.fold_in(key, i))
            swaps = jnp.minimum(self.swaps, count)
            drop_scores = jnp.where(mask, jax.random.uniform(drop_key, mask.shape), -1.0)
            kept = top_k_mask(drop_scores, count - swaps)
            grow_scores = jnp.where(kept, -1.0, jax.random.uniform(grow_key, mask.shape))
            return kept | top_k_mask(grow_scores, swaps)

        masks = map_sparse_layers(layer, state.masks, state.nonzeros)
        return masks, {"updates": state.extra["updates"] + 1}


# ---- a new value agent: a DQN whose per-example loss is |TD error| ** error_power --------


@dataclasses.dataclass(frozen=True)
class PowerDQNConfig(ValueConfig):
    """DQN's settings plus the exponent of the TD error in the loss."""

    error_power: float = option(2.0, positive)


@dataclasses.dataclass(frozen=True)
class PowerDQN(ValueAgent):
    """Q-learning on n-step returns with the loss |Q(s, a) - target| ** error_power."""

    config: PowerDQNConfig
    name: ClassVar[str] = "power-dqn"

    def per_example_loss(self, apply, params, target_params, batch, key):
        q = apply(params, batch["obs"])
        chosen = jnp.take_along_axis(q, batch["action"][:, None], axis=-1)[:, 0]
        bootstrap = jnp.max(apply(target_params, batch["next_obs"]), axis=-1)
        target = jax.lax.stop_gradient(batch["return"] + batch["discount"] * bootstrap)
        return jnp.abs(chosen - target) ** self.config.error_power


# Small enough that a run takes seconds: learning starts after 64 steps.
TINY = {
    "hidden": (16, 16),
    "batch_size": 8,
    "min_replay": 64,
    "target_update_period": 40,
    "replay_capacity": 500,
    "epsilon_decay_steps": 500,
    "learning_rate": 1e-3,
}
PRESETS = {"classic_control": {**TINY, "error_power": 1.5}}
SPARSITY, SWAPS, INTERVAL, STEPS, EVALS = 0.8, 3, 10, 960, 4  # 240 steps: 60 update periods
SPEC = f"""
name: extension
agents: [power-dqn]
envs: [CartPole-v1]
methods: [{{name: random-swap, swaps: {SWAPS}, update_interval: {INTERVAL}}}]
sparsities: [{SPARSITY}]
seeds: 2
steps: {STEPS}
eval_interval: {STEPS // EVALS}
eval_episodes: 2
"""


@pytest.fixture(scope="module", autouse=True)
def registered() -> Iterator[None]:
    """The method and the agent registered for this module's tests, forgotten after them (the
    other modules list the built-in ones); conftest's compilation cache lets the sweep reuse
    what `train` compiled."""
    register_method(RandomSwap)
    register_agent(PowerDQN, PowerDQNConfig, PRESETS)
    yield
    unregister_method("random-swap")
    unregister_agent("power-dqn")


def _expected_counts() -> dict[str, int]:
    """Exact kept weights per layer of the agent's CartPole network at SPARSITY (ERK)."""
    env = make_env("CartPole-v1")
    agent = make_agent("power-dqn", env)
    inputs = agent.example_inputs(env.obs_shape)
    params = jax.eval_shape(agent.network(env).init, jax.random.key(0), *inputs)
    return make_method("random-swap", sparsity=SPARSITY).layer_counts(kernel_shapes(params))


def test_registered_names_are_seen_and_checked_everywhere(capsys):
    assert list(METHODS)[-1] == "random-swap" and list(AGENTS)[-1] == "power-dqn"
    entry = agent_entry("power-dqn")
    assert (entry.family, entry.networks) == ("value", ("online",))
    # the option is validated by its declaration, from Python and from the CLI alike
    with pytest.raises(SparsityConfigError, match="swaps must be a positive integer, got 0"):
        make_method("random-swap", swaps=0)
    assert main(["inspect", "--method", "random-swap", "--method-set", "swaps=0"]) == 2
    assert "swaps must be a positive integer, got 0" in capsys.readouterr().err
    assert main(["inspect", "--method", "random-swap", "--method-set", "swap=2"]) == 2
    err = capsys.readouterr().err
    assert "has no option(s) ['swap']" in err and "'swaps', 'update_interval']" in err
    assert "evolves" not in err and "'name'" not in err
    args = ["inspect", "--mlp", "4,10,10,2", "--method", "random-swap", "--sparsity", "0.5"]
    assert main([*args, "--method-set", f"distribution=uniform,swaps={SWAPS}", "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert table["method"] == "random-swap" and table["weights"] == 80  # (40 + 100 + 20) / 2
    # a preset the agent lacks: one line naming it and the allowed ones
    with pytest.raises(AgentConfigError, match=r"no preset 'minatar'; choose one of \['class"):
        make_agent("power-dqn", make_env("CartPole-v1"), preset="minatar")


def test_agent_reads_its_option_from_its_preset_and_computes_its_loss():
    agent = make_agent("power-dqn", make_env("CartPole-v1"))
    assert agent.config.error_power == 1.5 and agent.config.hidden == (16, 16)
    batch = {
        "obs": jnp.array([[1.0, 2.0]]),
        "next_obs": jnp.array([[3.0, 1.0]]),
        "action": jnp.array([1]),
        "return": jnp.array([0.5]),
        "discount": jnp.array([0.9]),
    }

    def apply(scale, obs):  # Q-values: the observation times a scalar "parameter"
        return scale * obs

    # Q(s, 1) = 2; target 0.5 + 0.9 * max(2 * [3, 1]) = 5.9; |2 - 5.9| ** 1.5
    loss = agent.per_example_loss(apply, 1.0, 2.0, batch, jax.random.key(0))
    np.testing.assert_allclose(loss, [3.9**1.5], rtol=1e-6)


def test_method_state_is_carried_through_jit_and_vmap(params):
    method = make_method(
        "random-swap", sparsity=0.5, distribution="uniform", swaps=2, update_interval=5
    )
    keys = jax.random.split(jax.random.key(0), 3)
    _, states = jax.vmap(lambda k: method.init(params, k))(keys)
    start = states.masks

    @jax.jit
    def run(states):
        def step(states, t):
            update = jax.vmap(lambda s, p: method.update(s, p, (), None, t)[2])
            return update(states, jax.vmap(lambda _: params)(keys)), None

        return jax.lax.scan(step, states, jnp.arange(1, 13))[0]

    end = run(states)
    assert end.extra["updates"].tolist() == [2, 2, 2]  # steps 5 and 10 of 1..12
    counts = method.layer_counts(kernel_shapes(params))  # layer order: the leaves' order
    flat_end = jax.tree_util.tree_leaves(end.masks)
    flat_start = jax.tree_util.tree_leaves(start)
    for name, old, new in zip(counts, flat_start, flat_end, strict=True):
        assert new.sum(axis=tuple(range(1, new.ndim))).tolist() == [counts[name]] * 3
        moved = (old & ~new).sum(axis=tuple(range(1, new.ndim)))
        assert int(moved.min()) > 0 and int(moved.max()) <= 2 * 2  # at most 2 swaps, twice


def _check_runs(metrics: list[pd.DataFrame], configs: list[dict], counts: dict[str, int]):
    assert len(metrics) == len(configs) == 2
    for rows, config in zip(metrics, configs, strict=True):
        assert rows["step"].tolist() == [STEPS // EVALS * (i + 1) for i in range(EVALS)]
        for layer, count in counts.items():
            assert rows[f"active/{layer}"].tolist() == [count] * EVALS
        assert rows["weights_outside_mask"].tolist() == [0] * EVALS
        assert np.isfinite(rows["loss"]).all() and (rows["loss"] > 0).all()
        assert (config["agent"], config["method"], config["preset"]) == (
            "power-dqn",
            "random-swap",
            "classic_control",
        )
        assert config["agent_config"]["error_power"] == 1.5
        assert config["method_config"]["swaps"] == SWAPS
        assert config["method_config"]["update_interval"] == INTERVAL


def test_train_sweep_and_report_run_the_new_method_and_agent(tmp_path):
    counts = _expected_counts()
    assert sum(counts.values()) < 4 * 16 + 16 * 16 + 16 * 2  # sparse, and exactly these
    spec = TrainSpec(
        agent="power-dqn",
        env="CartPole-v1",
        method="random-swap",
        sparsities=(SPARSITY,),
        seeds=2,
        steps=STEPS,
        eval_interval=STEPS // EVALS,
        eval_episodes=2,
        method_options={"swaps": SWAPS, "update_interval": INTERVAL},
    )
    trained = train(spec, out=tmp_path / "train")
    configs = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("train/*/config.json"))]
    _check_runs([pd.DataFrame(r.metrics) for r in trained], configs, counts)

    outcome = run_sweep(loads(SPEC), tmp_path / "sweep")
    assert (outcome.finished, outcome.failed, outcome.kept) == (2, 0, 0)
    loaded = results.load(tmp_path / "sweep")
    assert loaded.runs["status"].tolist() == ["finished"] * 2
    run_dirs = sorted(p.parent for p in (tmp_path / "sweep").glob("*/*/config.json"))
    _check_runs(
        [pd.read_csv(d / "metrics.csv") for d in run_dirs],
        [json.loads((d / "config.json").read_text()) for d in run_dirs],
        counts,
    )
    # the same grid point, seed and program: the sweep's runs repeat train()'s exactly
    for result, directory in zip(trained, run_dirs, strict=True):
        returns = pd.read_csv(directory / "metrics.csv")["eval_return"].tolist()
        assert returns == [row["eval_return"] for row in result.metrics]

    index = write_report(tmp_path / "sweep", reps=20)
    scores = pd.read_csv(Path(index).parent / "scores.csv")
    row = scores[scores["env"] == "CartPole-v1"].iloc[0]
    assert (row["method"], row["sparsity"], row["seeds"]) == ("random-swap", SPARSITY, 2)
    # final return: the mean of the last 10% of 4 evaluations, i.e. the last one; the IQM of
    # two seeds is their mean
    finals = [result.metrics[-1]["eval_return"] for result in trained]
    assert row["return_iqm"] == pytest.approx(np.mean(finals))


def test_bad_registrations_are_one_line_errors():
    class Unnamed(MaskedMethod):  # inherits MaskedMethod's name: would replace a method
        pass

    with pytest.raises(SparsityConfigError, match="Unnamed must set its own name"):
        register_method(Unnamed)

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Taken(MaskedMethod):
        name: ClassVar[str] = "rigl"

    with pytest.raises(SparsityConfigError, match="method name 'rigl' is taken by sparserl"):
        register_method(Taken)

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Mapped(MaskedMethod):
        name: ClassVar[str] = "mapped"
        weights: dict[str, float] = dataclasses.field(default_factory=dict)

    with pytest.raises(SparsityConfigError, match=r"Mapped.weights: options are bool, int"):
        register_method(Mapped)

    @dataclasses.dataclass(frozen=True)
    class Other(PowerDQN):
        name: ClassVar[str] = "other-dqn"

    with pytest.raises(AgentConfigError, match="preset 'tiny': error_power must be a number > 0"):
        register_agent(Other, PowerDQNConfig, {"tiny": {"error_power": -1.0}})
    with pytest.raises(AgentConfigError, match=r"no preset 'der'; choose one of \['tiny'\]"):
        register_agent(Other, PowerDQNConfig, {"tiny": {}}, env_presets={"der": {}})
    assert "other-dqn" not in AGENTS and "mapped" not in METHODS
