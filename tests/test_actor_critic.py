"""SAC / TD3 / PPO: paper counts, the actor:critic split, DS-TD3 invariants, losses, bad input."""

from __future__ import annotations

import dataclasses
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sparserl.agents import AgentConfigError
from sparserl.agents.actor_critic.sac import tanh_gaussian_sample
from sparserl.cli import main
from sparserl.experiment import TrainConfigError, TrainSpec, agent_budget, resolve
from sparserl.sparsity import SparsityConfigError
from sparserl.sparsity.masks import named_masks
from sparserl.train import make_runner, run_points, train


def _inspect(capsys, *args):
    assert main(["inspect", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_td3_halfcheetah_counts_match_sokar_table_2(capsys):
    dense = _inspect(capsys, "td3", "HalfCheetah-v5", "--method", "dense")
    assert dense["weights"] == 214_784  # Sokar et al. 2022, Table 2: TD3
    assert dense["networks"]["actor"]["weights"] == 17 * 256 + 256 * 256 + 256 * 6
    ds = _inspect(capsys, "td3", "HalfCheetah-v5", "--preset", "ds-td3")
    assert ds["method"] == "ds" and ds["weights"] == 106_169  # Table 2: DS-TD3
    layers = {row["layer"]: row for row in ds["layers"]}
    assert layers["actor/encoder/dense_0"]["nonzeros"] == 7 * (17 + 256)  # lambda^1 = 7
    assert layers["critic/q2/encoder/dense_1"]["nonzeros"] == 64 * (256 + 256)  # lambda^2 = 64
    assert layers["critic/q1/head"]["density"] == 1.0 and layers["actor/head"]["density"] == 1.0
    static = _inspect(capsys, "td3", "HalfCheetah-v5", "--preset", "ds-td3", "--method", "static")
    assert static["method"] == "static" and static["weights"] == 106_169  # Static-TD3


def test_actor_critic_split_gives_the_requested_counts():
    spec = TrainSpec(
        agent="sac", env="Hopper-v5", method="rigl", sparsities=(0.8,), actor_fraction=0.1
    )
    table = agent_budget(resolve(spec), 0.8)
    dense = table["dense_weights"]
    budget = 0.2 * dense
    actor, critic = (table["networks"][n]["weights"] for n in ("actor", "critic"))
    # Exact up to the per-layer rounding of connection counts (one weight per layer at most).
    assert abs(actor - 0.1 * budget) <= 3 and abs(critic - 0.9 * budget) <= 6
    default = agent_budget(resolve(TrainSpec(agent="sac", env="Hopper-v5")), None)
    assert default["networks"]["actor"]["weights"] / dense == pytest.approx(0.32, abs=0.02)


def _actor_critic_counts(plan, run: int) -> dict[str, int]:
    """`network/layer` -> the target count of grid run `run`, as training starts from it."""
    points = run_points(plan)
    return {
        f"{net}/{layer}": int(np.asarray(count)[run])
        for net, tree in points.counts.items()
        for layer, count in named_masks(tree).items()
    }


def test_ds_td3_preset_honours_each_sparsity_level(capsys):
    # ds-td3 on Pendulum-v1: lambda^1 = 1.5, lambda^2 = 64, heads dense. A level scales both
    # lambdas by one eps over a network's sparse layers (RigL's solve, floor of the zeros):
    # actor 3x256 (768, score 1.5 * 259 = 388.5 per eps) and 256x256 (65,536, 64 * 512 =
    # 32,768). At 0.8 the layers' budgets are 768 - floor(614.4) + 65536 - floor(52428.8) =
    # 154 + 13,108 = 13,262; eps = 13262 / 33156.5: 155.39 kept -> 612 zeros -> 156, and
    # 13,106.4 -> 52,429 zeros -> 13,107. At 0.95: 39 + 3,277 = 3,316, eps = 3316 / 33156.5:
    # 38.85 -> 39 and 3,277.15 -> 3,278. Each critic (4x256: 1.5 * 260 = 390) at 0.8:
    # eps = 2 (205 + 13,108) / 2 (390 + 32,768): 156.6 -> 157, 13,156.4 -> 13,157; at 0.95:
    # eps = 2 (52 + 3,277) / 66,316: 39.2 -> 40, 3,289.9 -> 3,290.
    spec = TrainSpec(agent="td3", env="Pendulum-v1", preset="ds-td3", sparsities=(0.8, 0.95))
    resolved = resolve(spec)
    hand = {
        0.8: {"actor": (156, 13107), "critic": (157, 13157)},
        0.95: {"actor": (39, 3278), "critic": (40, 3290)},
    }
    dense = 2 * (1024 + 65536 + 256) + 768 + 65536 + 256
    for run, (level, counts) in enumerate(hand.items()):
        got = _actor_critic_counts(resolved, run)
        assert (got["actor/encoder/dense_0"], got["actor/encoder/dense_1"]) == counts["actor"]
        for q in ("q1", "q2"):
            layers = (got[f"critic/{q}/encoder/dense_0"], got[f"critic/{q}/encoder/dense_1"])
            assert layers == counts["critic"]
        weights = sum(counts["actor"]) + 2 * sum(counts["critic"]) + 3 * 256
        assert sum(got.values()) + 3 * 256 == weights  # targets cover the sparse layers
        table = _inspect(
            capsys, "td3", "Pendulum-v1", "--preset", "ds-td3", "--sparsity", str(level)
        )
        assert table["weights"] == weights and table["sparsity"] == 1 - weights / dense
        assert abs(table["sparsity"] - level) < 0.004  # the dense heads: 768 of 200,192
    # Without a level the lambdas give their own counts: 1.5 * (3 + 256) = 388.5 -> 389.
    assert (
        _actor_critic_counts(resolve(dataclasses.replace(spec, sparsities=())), 0)[
            "actor/encoder/dense_0"
        ]
        == 389
    )


def test_user_er_lambda_with_a_level_is_reconciled_by_scaling():
    # Lambdas 1 and 8 alone: 1 * 259 and 8 * 512 = 4,096 connections. With the level 0.9 they
    # are the layers' weights: budgets 768 - floor(691.2) + 65536 - floor(58982.4) = 77 +
    # 6,554 = 6,631, eps = 6631 / (259 + 4096): 394.4 kept -> 373 zeros -> 395, and
    # 6,236.6 -> 59,299 zeros -> 6,237.
    lambdas = {"encoder/dense_0": 1.0, "encoder/dense_1": 8.0}
    spec = TrainSpec(
        agent="td3",
        env="Pendulum-v1",
        method="ds",
        sparsities=(0.9,),
        network_options={"actor": {"er_lambda": lambdas}},
    )
    got = _actor_critic_counts(resolve(spec), 0)
    assert (got["actor/encoder/dense_0"], got["actor/encoder/dense_1"]) == (395, 6237)
    explicit = _actor_critic_counts(resolve(dataclasses.replace(spec, sparsities=())), 0)
    assert (explicit["actor/encoder/dense_0"], explicit["actor/encoder/dense_1"]) == (259, 4096)
    # The actor:critic split now sets each network's level under the preset's lambdas too.
    split = dataclasses.replace(spec, method=None, preset="ds-td3", actor_fraction=0.3)
    table = agent_budget(resolve(split), 0.9)
    actor = table["networks"]["actor"]["weights"]
    # Up to 2 weights per sparse layer: a layer's budget and its count each floor its zeros.
    assert abs(actor - 0.3 * 0.1 * table["dense_weights"]) <= 4


@pytest.mark.parametrize(
    "changes, error, message",
    [
        ({"agent": "sac", "env": "CartPole-v1"}, AgentConfigError, "needs continuous actions"),
        ({"agent": "td3", "env": "Acrobot-v1"}, AgentConfigError, "needs continuous actions"),
        ({"actor_fraction": 1.5}, TrainConfigError, "actor_fraction must be a number in (0, 1)"),
        ({"actor_fraction": 0.0}, TrainConfigError, "actor_fraction must be a number in (0, 1)"),
        ({"actor_fraction": 0.9}, TrainConfigError, "Fractions that fit this budget: (0.0"),
        (
            {"actor_fraction": 0.3, "method": "dense", "sparsities": ()},
            TrainConfigError,
            "no sparsity",
        ),
        (
            {
                "network_options": {
                    "actor": {"er_lambda": {"encoder/dense_0": 50.0, "encoder/dense_1": 4}}
                }
            },
            SparsityConfigError,
            "er_lambda['encoder/dense_0'] = 50.0",
        ),
        ({"network_options": {"policy": {}}}, TrainConfigError, "unknown network(s) ['policy']"),
        ({"set": {"learning_starts": 5000}}, TrainConfigError, "learning_starts 5000 >= steps"),
        ({"method": "lottery"}, TrainConfigError, "value-based agents only"),
        (
            {"agent": "ppo", "steps": 5000},  # Pendulum-v1's PPO rollout: 4 envs x 1024 steps
            TrainConfigError,
            "steps 5000 must be a multiple of the rollout size 4096; nearest: 4096 or 8192",
        ),
        ({"agent": "ppo", "preset": "atari"}, AgentConfigError, "agent 'ppo' has no preset"),
    ],
)
def test_bad_actor_critic_input_is_refused(changes, error, message):
    spec = {
        "agent": "td3",
        "env": "Pendulum-v1",
        "method": "rigl",
        "sparsities": (0.5,),
        "steps": 2000,
    }
    if "set" in changes:
        spec["agent_options"] = changes.pop("set")
    if "er_lambda" in str(changes):
        spec.update(method="ds", sparsities=())
    spec.update(changes)
    with pytest.raises(error) as info:
        resolve(TrainSpec(**spec))
    assert message in str(info.value)


def test_tanh_gaussian_log_density_matches_change_of_variables():
    mean, log_std = np.array([[0.3, -0.2]]), np.array([[-0.5, 0.1]])
    action, logp = tanh_gaussian_sample(jnp.asarray(mean), jnp.asarray(log_std), jax.random.key(3))
    u = np.arctanh(np.asarray(action, np.float64))
    std = np.exp(log_std)
    normal = -0.5 * ((u - mean) / std) ** 2 - np.log(std) - 0.5 * math.log(2 * math.pi)
    expected = np.sum(normal - np.log(1 - np.tanh(u) ** 2), axis=-1)
    assert np.asarray(logp) == pytest.approx(expected, rel=1e-4)


LAMBDA_2 = {"encoder/dense_1": 8.0}


def test_ds_td3_counts_hold_after_every_evolution_and_target_update():
    """Every step: online masks have the declared counts, nothing outside them, and the
    pruned-back targets have exactly as many nonzeros as the online network."""
    spec = TrainSpec(
        agent="td3",
        env="Pendulum-v1",
        preset="ds-td3",
        steps=60,
        eval_interval=1,
        eval_episodes=1,
        agent_options={"hidden": (32, 32), "learning_starts": 20, "batch_size": 16},
        network_options={
            "actor": {"update_interval": 5, "er_lambda": {"encoder/dense_0": 1.0, **LAMBDA_2}},
            "critic": {
                "update_interval": 10,
                "er_lambda": {
                    f"q{i}/encoder/dense_{j}": lam
                    for i in (1, 2)
                    for j, lam in ((0, 1.0), (1, 8.0))
                },
            },
        },
    )
    plan = resolve(spec)
    declared = {
        f"{n}/{layer}": count
        for n, m in plan.methods.items()
        for layer, count in m.layer_counts(plan.kernel_shapes[n]).items()
    }
    runner = make_runner(plan)
    previous = None
    evolutions = 0
    for step in range(spec.steps):
        metrics = runner.chunk(step)
        masks = jax.tree.leaves(runner.networks()["critic"].sparse.masks)
        if previous is not None and any(
            not np.array_equal(a, b) for a, b in zip(masks, previous, strict=True)
        ):
            evolutions += 1
        previous = [np.asarray(m) for m in masks]
        for layer, count in declared.items():
            assert int(metrics["online"]["active"][layer][0]) == count, (step, layer)
            assert int(metrics["online"]["outside"][layer][0]) == 0, (step, layer)
            assert int(metrics["target"]["nonzero"][layer][0]) == count, (step, layer)
    assert evolutions == 4  # critic steps 10, 20, 30, 40 of 40 updates


def test_ppo_presets_by_env_id_then_family(capsys):
    pendulum = resolve(TrainSpec(agent="ppo", env="Pendulum-v1", steps=4096)).agent.config
    assert (pendulum.num_envs, pendulum.num_steps, pendulum.gamma) == (4, 1024, 0.9)  # zoo
    cartpole = resolve(TrainSpec(agent="ppo", env="CartPole-v1", steps=2048)).agent.config
    assert (cartpole.num_envs, cartpole.num_steps, cartpole.gamma) == (8, 256, 0.99)  # SB3
    # inspect rounds its nominal run length up to whole rollouts instead of refusing it.
    table = _inspect(capsys, "ppo", "CartPole-v1", "--sparsity", "0.9")
    dense = 4 * 256 + 256 * 256 + 256 * 2 + 4 * 256 + 256 * 256 + 256
    assert table["dense_weights"] == dense and table["weights"] == pytest.approx(0.1 * dense, 2)


def test_ppo_train_writes_the_actor_critic_outputs(tmp_path):
    spec = TrainSpec(
        agent="ppo",
        env="CartPole-v1",
        method="set",
        sparsities=(0.9,),
        seeds=2,
        steps=512,
        eval_interval=256,
        eval_episodes=2,
        agent_options={"hidden": (32, 32), "num_envs": 2, "num_steps": 64, "minibatch_size": 32},
    )
    results = train(spec, tmp_path)
    assert [r.run_id for r in results] == [
        "ppo_CartPole-v1_set_sparsity0.9_seed0",
        "ppo_CartPole-v1_set_sparsity0.9_seed1",
    ]
    budget = agent_budget(resolve(spec), 0.9)
    for result in results:
        assert len(result.metrics) == 2
        last = result.metrics[-1]
        # masks hold through 2 rollouts x 10 epochs x 4 minibatches of SET updates
        assert last["parameters"] == budget["parameters"]
        assert last["weights_outside_mask"] == 0 and last["target_excess_nonzeros"] == 0
        assert {"policy_loss", "value_loss", "entropy", "approx_kl"} <= set(last)
        assert math.isfinite(last["value_loss"]) and result.summary["finite_loss"]
        assert (
            result.summary["networks"]["actor"]["weights"]
            == (budget["networks"]["actor"]["weights"])
        )
        written = (tmp_path / result.run_id / "metrics.csv").read_text().splitlines()
        assert len(written) == 3


def test_parameter_matched_dense_actor_critic(capsys):
    sparse = _inspect(capsys, "sac", "HalfCheetah-v5", "--sparsity", "0.9")["parameters"]
    table = _inspect(
        capsys, "sac", "HalfCheetah-v5", "--method", "dense", "--match-sparsity", "0.9"
    )
    hidden = table["layers"][1]["shape"][0]
    assert hidden == 75 and table["sparsity"] == 0.0
    # 23,114 dense vs 23,190 sparse: one hidden unit more would add 4 x 75 + 17 + 6 x 3 + ...
    per_unit = 3 * (2 * hidden + 1) + (17 + 12 + 1) + 2 * (23 + 1 + 1)
    assert abs(table["parameters"] - sparse) <= per_unit / 2
    with pytest.raises(TrainConfigError, match="needs method 'dense', not 'rigl'"):
        resolve(TrainSpec("td3", "Pendulum-v1", method="rigl", match_sparsity=0.9, steps=2000))
