"""IQN and M-IQN on hand-checkable cases: the quantile Huber loss, the Munchausen target, the
cosine embedding, the network's shapes, counts and FLOPs, the agents' targets, their configs,
and masks respected while training sparse."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sparserl.nets as nets
import sparserl.sparsity as sp
from sparserl.agents import (
    IQN,
    AgentConfigError,
    IQNConfig,
    MunchausenIQN,
    MunchausenIQNConfig,
    make_agent,
)
from sparserl.agents.value import losses
from sparserl.cli import main
from sparserl.envs import make_env
from sparserl.experiment import TrainSpec, resolve
from sparserl.sweeps import SweepSpecError, check, expand, group_id, parse
from sparserl.train import train

KEY = jax.random.key(0)


def test_quantile_huber_loss_on_both_sides_of_kappa():
    # Online quantiles 0 and 1 at τ = 0.25, 0.75; target samples 0.5 and 3.
    # δ = target - quantile: (0.5, -0.5) for the first sample, (3, 2) for the second.
    # κ = 1: Huber 0.125, 0.125 | 2.5, 1.5; weights |τ - 1{δ<0}| 0.25, 0.25 | 0.25, 0.75
    #   -> sums over the quantiles 0.0625 and 1.75, mean over the samples 0.90625.
    # κ = 2: Huber / κ 0.0625, 0.0625 | 2, 1 -> 0.03125 and 1.25, mean 0.640625.
    # A second example whose target equals its quantiles has loss 0.
    quantiles = jnp.array([[0.0, 1.0], [2.0, 2.0]])
    taus = jnp.array([[0.25, 0.75], [0.1, 0.9]])
    targets = jnp.array([[0.5, 3.0], [2.0, 2.0]])
    np.testing.assert_allclose(
        losses.quantile_huber_loss(quantiles, targets, taus, 1.0), [0.90625, 0.0]
    )
    np.testing.assert_allclose(
        losses.quantile_huber_loss(quantiles, targets, taus, 2.0), [0.640625, 0.0]
    )


def test_munchausen_target_on_two_actions():
    # τ = 1, α = 0.9, l0 = -1. Example 0: q(s) = (0, 0), a = 0: τ log π(a|s) = log 1/2, inside
    # [l0, 0], bonus 0.9 log 1/2 = -0.62383. q(s') = (log 3, 0): π(.|s') = (3/4, 1/4); target
    # quantiles Z(s', .) = (1, 2) and (0, 4): soft values Σ π (Z - log π) = Σ π Z + H =
    # 1.25 + H and 1 + H, H = 0.56234 the entropy of π: 1.81234 and 1.56234.
    # Target: 1 - 0.62383 + 0.5 x soft = 1.28234, 1.15734.
    # Example 1: q(s) = (0, -2), a = 1: τ log π = -2 - log(1 + e^-2) = -2.127, clipped to -1:
    # bonus -0.9; terminal (discount 0): target 0.5 - 0.9 = -0.4 for both samples.
    targets = losses.munchausen_quantile_targets(
        returns=jnp.array([1.0, 0.5]),
        discounts=jnp.array([0.5, 0.0]),
        next_quantiles=jnp.array([[[1.0, 2.0], [0.0, 4.0]], [[1.0, 2.0], [0.0, 4.0]]]),
        next_q=jnp.array([[np.log(3.0), 0.0], [np.log(3.0), 0.0]]),
        q=jnp.array([[0.0, 0.0], [0.0, -2.0]]),
        actions=jnp.array([0, 1]),
        temperature=1.0,
        alpha=0.9,
        log_policy_clip=-1.0,
    )
    np.testing.assert_allclose(targets, [[1.28234, 1.15734], [-0.4, -0.4]], atol=1e-5)


def test_munchausen_target_without_bonus_at_low_temperature_is_the_greedy_target():
    next_quantiles = jnp.array([[[1.0, 2.0], [0.0, 4.0]]])
    next_q = jnp.array([[np.log(3.0), 0.0]])  # greedy a* = 0
    common = {"returns": jnp.array([1.0]), "discounts": jnp.array([0.5])}
    soft = losses.munchausen_quantile_targets(
        **common,
        next_quantiles=next_quantiles,
        next_q=next_q,
        q=jnp.zeros((1, 2)),
        actions=jnp.array([0]),
        temperature=1e-4,
        alpha=0.0,
        log_policy_clip=-1.0,
    )
    greedy = losses.quantile_td_targets(
        **common, next_quantiles=next_quantiles, next_actions=jnp.array([0])
    )
    np.testing.assert_allclose(soft, greedy, atol=1e-5)
    np.testing.assert_allclose(greedy, [[1.5, 1.0]])


def test_cosine_basis_shape_and_values():
    taus = jnp.array([[0.0, 0.5, 1.0], [0.25, 0.0, 0.0]])
    basis = nets.cosine_basis(taus, 64)
    assert basis.shape == (2, 3, 64)
    np.testing.assert_allclose(basis[0, 0], np.ones(64))  # cos(0) for every i
    np.testing.assert_allclose(basis[0, 1, :4], [0.0, -1.0, 0.0, 1.0], atol=1e-6)  # cos(πi/2)
    np.testing.assert_allclose(basis[0, 2, :2], [-1.0, 1.0], atol=1e-6)  # cos(πi)


def _cartpole_iqn(**overrides):
    env = make_env("CartPole-v1")
    agent = make_agent("iqn", env, overrides=overrides)
    network = agent.network(env)
    return env, agent, network, network.init(KEY, *agent.example_inputs(env.obs_shape))


def test_network_at_tau_zero_is_the_hand_computed_formula():
    # At τ = 0 every cosine is 1, so φ(0) = ReLU(Σ_i w_ij + b_j) (Dabney et al. eq. 4), and
    # the output is head(ψ(x) ⊙ φ(0)) for every sample.
    env, _, network, params = _cartpole_iqn(hidden=(8, 8))
    obs = jax.random.normal(KEY, (3, 4))
    out = network.apply(params, obs, jnp.zeros((3, 2)))
    p = jax.tree.map(np.asarray, params["params"])
    low, high = (np.asarray(b) for b in env.spec.obs_bounds)
    x = 2 * (np.asarray(obs) - low) / (high - low) - 1
    for layer in ("dense_0", "dense_1"):
        x = np.maximum(x @ p["encoder"][layer]["kernel"] + p["encoder"][layer]["bias"], 0)
    emb = p["cosine_embedding"]
    phi = np.maximum(emb["kernel"].sum(axis=0) + emb["bias"], 0)
    assert (x * phi).any()  # not only the head's bias
    expected = (x * phi) @ p["head"]["kernel"] + p["head"]["bias"]
    assert out.shape == (3, 2, 2)  # [B, N, A]
    np.testing.assert_allclose(out, np.stack([expected, expected], axis=1), rtol=1e-5, atol=1e-6)


def test_q_values_are_the_mean_over_k_sampled_fractions():
    env, agent, network, params = _cartpole_iqn(hidden=(8, 8), num_quantile_samples=5)
    obs = jax.random.normal(KEY, (3, 4))
    key = jax.random.key(7)
    values = network.apply(params, obs, jax.random.uniform(key, (3, 5)))
    assert values.shape == (3, 5, 2)
    assert float(jnp.std(values[0, :, 0])) > 0  # the fractions change the quantile values
    q = agent.q_values(network.apply, params, obs, key)
    np.testing.assert_allclose(q, values.mean(axis=1), rtol=1e-6)


def test_cartpole_network_parameter_count_and_layer_order():
    _, _, network, params = _cartpole_iqn()
    # torso 4x512 + 512 and 512x512 + 512, embedding 64x512 + 512, head 512x2 + 2
    expected = (4 * 512 + 512) + (512 * 512 + 512) + (64 * 512 + 512) + (512 * 2 + 2)
    assert nets.parameter_count(params) == expected == 299_522
    order = ["encoder/dense_0", "encoder/dense_1", "cosine_embedding", "head"]
    assert list(sp.kernel_shapes(params)) == order  # creation order
    inputs = (jnp.zeros((1, 4)), jnp.zeros((1, 32)))
    sorted_shapes = sp.kernel_shapes(jax.eval_shape(network.init, KEY, *inputs))
    assert list(sorted_shapes)[-1] == "head"  # also last once a JAX transform sorts the keys


def test_pong_network_follows_dopamine_parameter_count():
    # Dopamine's Atari IQN: the 7x7x64 = 3136 conv features times ReLU(Dense_3136(cos)), then
    # the 512-unit dense layer and the head (VALID convs: 84 -> 20 -> 9 -> 7)
    env = make_env("ALE/Pong-v5")
    agent = make_agent("iqn", env)
    network = agent.network(env)
    params = jax.eval_shape(network.init, KEY, *agent.example_inputs(env.obs_shape))
    expected = (
        (8 * 8 * 4 * 32 + 32)
        + (4 * 4 * 32 * 64 + 64)
        + (3 * 3 * 64 * 64 + 64)
        + (64 * 3136 + 3136)  # cosine embedding to the conv features
        + (3136 * 512 + 512)  # the torso's dense layer, after the product
        + (512 * 6 + 6)
    )
    assert nets.parameter_count(params) == expected == 1_891_046
    shapes = sp.kernel_shapes(params)
    assert shapes["cosine_embedding"] == (64, 3136)
    assert shapes["encoder/dense"] == (3136, 512)
    assert list(shapes)[-1] == "head"


def test_conv_torso_network_multiplies_the_conv_features_before_the_dense_layer():
    # 36x36 frames: VALID convs 36 -> 8 -> 3 -> 1, so 64 conv features; taus 0 and 1.
    network = nets.make_q_network("nature_cnn", 3, quantile_embedding_dim=8)
    obs = jax.random.uniform(KEY, (2, 36, 36, 4))
    taus = jnp.array([[0.0, 1.0], [0.5, 0.25]])
    params = network.init(KEY, obs, taus)
    out = network.apply(params, obs, taus)
    p = jax.tree.map(np.asarray, params["params"])
    conv = nets.NatureCNN().apply({"params": p["encoder"]}, obs, method="features")
    assert conv.shape == (2, 64)
    emb = p["cosine_embedding"]
    phi = np.maximum(np.asarray(nets.cosine_basis(taus, 8)) @ emb["kernel"] + emb["bias"], 0)
    dense = p["encoder"]["dense"]
    hidden = np.maximum((np.asarray(conv)[:, None, :] * phi) @ dense["kernel"] + dense["bias"], 0)
    expected = hidden @ p["head"]["kernel"] + p["head"]["bias"]
    assert out.shape == (2, 2, 3)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


TINY = ["--set", "hidden=8,8", "--set", "quantile_embedding_dim=4", "--set", "num_tau_samples=4"]
TINY += ["--set", "num_tau_prime_samples=3", "--set", "num_quantile_samples=2", "--json"]


@pytest.mark.parametrize(
    ("agent", "method", "training", "dense", "acting"),
    [
        # Kernels 4x8, 8x8 (once per example), 4x8 and 8x2 (once per fraction): forward
        # f(n) = 2 (32 + 64) + 2 n (32 + 16) = 192 + 96 n; acting runs f(K) = f(2) = 384.
        # One IQN update: the online net at N = 4 fractions, differentiated (3x), the target
        # net at N' = 3 and the greedy selector at K = 2 (1x each):
        # 3 f(4) + f(3) + f(2) = 1728 + 480 + 384 = 2592.
        ("iqn", ["--method", "dense"], 2592, 2592, 384),
        # M-IQN also evaluates the target net at K on s (its log-policy term): + f(2)
        ("m-iqn", ["--method", "dense"], 2976, 2976, 384),
        # static 50% uniform keeps exactly half of every layer: half the FLOPs
        (
            "iqn",
            ["--method", "static", "--method-set", "distribution=uniform", "--sparsity", "0.5"],
            1296,
            2592,
            192,
        ),
    ],
)
def test_training_flops_count_every_pass_of_one_update(
    agent, method, training, dense, acting, capsys
):
    assert main(["inspect", agent, "CartPole-v1", *method, *TINY]) == 0
    table = json.loads(capsys.readouterr().out)
    assert table["training_flops"] == training and table["dense_training_flops"] == dense
    assert table["inference_flops"] == acting


def test_dqn_training_flops_stay_three_forward_passes(capsys):
    # forward 2 (4x8 + 8x8 + 8x2) = 224; the target pass on s' is left out: 3 x 224
    args = ["inspect", "dqn", "CartPole-v1", "--method", "dense", "--set", "hidden=8,8", "--json"]
    assert main(args) == 0
    table = json.loads(capsys.readouterr().out)
    assert table["inference_flops"] == 224 and table["training_flops"] == 3 * 224


def test_inspect_counts_the_k_acting_samples_in_the_flops(capsys):
    assert main(["inspect", "iqn", "CartPole-v1", "--method", "dense", "--json"]) == 0
    layers = {row["layer"]: row for row in json.loads(capsys.readouterr().out)["layers"]}
    # the torso runs once per observation, the embedding and head once per τ (K = 32)
    assert layers["encoder/dense_1"]["inference_flops"] == 2 * 512 * 512
    assert layers["cosine_embedding"]["inference_flops"] == 2 * 64 * 512 * 32
    assert layers["head"]["inference_flops"] == 2 * 512 * 2 * 32


def _table_apply(params, obs, taus):
    """Quantile values that ignore τ: a Q table indexed by state, repeated for each fraction."""
    q = params["q"][obs]
    return jnp.broadcast_to(q[:, None, :], (q.shape[0], taus.shape[1], q.shape[1]))


ONLINE = {"q": jnp.array([[1.5, 3.0], [4.0, 0.0]])}  # online argmax at state 1: action 0
TARGET = {"q": jnp.array([[0.0, 0.0], [2.0, 5.0]])}  # target argmax at state 1: action 1
BATCH = {
    "obs": jnp.array([0, 0, 1]),
    "action": jnp.array([1, 0, 0]),
    "return": jnp.array([0.5, 0.5, 4.0]),
    "next_obs": jnp.array([1, 1, 0]),
    "discount": jnp.array([0.5, 0.5, 0.0]),
}


def test_iqn_regresses_the_taken_action_on_the_greedy_target():
    # Targets: a* from the target net: 0.5 + 0.5 x 5 = 3 (examples 0, 1), terminal 4 (2);
    # with double Q, a* from the online net: 0.5 + 0.5 x 2 = 1.5. The taken actions' values
    # are 3, 1.5 and 4, so the loss is 0 exactly where the target is met; elsewhere
    # |δ| = 1.5 gives Huber 1 times weights in (0, 1) summed over N = 4 fractions.
    config = IQNConfig(num_tau_samples=4, num_tau_prime_samples=3, num_quantile_samples=2)
    plain = IQN(config).per_example_loss(_table_apply, ONLINE, TARGET, BATCH, KEY)
    double = IQN(config.replace(double_q=True))
    double = double.per_example_loss(_table_apply, ONLINE, TARGET, BATCH, KEY)
    np.testing.assert_allclose(plain[np.array([0, 2])], 0.0)
    np.testing.assert_allclose(double[np.array([1, 2])], 0.0)
    assert 0 < float(plain[1]) < 4 and 0 < float(double[0]) < 4


def test_m_iqn_without_bonus_at_low_temperature_is_iqn():
    config = {"num_tau_samples": 4, "num_tau_prime_samples": 3, "num_quantile_samples": 2}
    iqn = IQN(IQNConfig(**config))
    m_iqn = MunchausenIQN(
        MunchausenIQNConfig(**config, munchausen_alpha=0.0, entropy_temperature=1e-4)
    )
    expected = iqn.per_example_loss(_table_apply, ONLINE, TARGET, BATCH, KEY)
    loss = m_iqn.per_example_loss(_table_apply, ONLINE, TARGET, BATCH, KEY)
    np.testing.assert_allclose(loss, expected, atol=1e-5)
    # the default bonus shifts the targets: at state 0, where the target net values both
    # actions 0, by 0.9 x 0.03 log 1/2 = -0.0187
    bonus = MunchausenIQN(MunchausenIQNConfig(**config))
    assert not np.allclose(bonus.per_example_loss(_table_apply, ONLINE, TARGET, BATCH, KEY), loss)


def test_defaults_and_presets():
    atari = IQNConfig()
    assert (atari.learning_rate, atari.adam_eps, atari.n_step, atari.kappa) == (
        5e-5,
        3.125e-4,
        3,
        1.0,
    )
    assert (atari.num_tau_samples, atari.num_tau_prime_samples) == (64, 64)
    assert (atari.num_quantile_samples, atari.quantile_embedding_dim) == (32, 64)
    assert (atari.target_update_period, atari.min_replay, atari.double_q) == (8000, 20_000, False)
    munchausen = MunchausenIQNConfig()
    assert (munchausen.entropy_temperature, munchausen.munchausen_alpha) == (0.03, 0.9)
    assert munchausen.log_policy_clip == -1.0
    for name in ("iqn", "m-iqn"):
        cartpole = make_agent(name, make_env("CartPole-v1")).config
        assert (cartpole.hidden, cartpole.batch_size, cartpole.double_q) == ((512, 512), 128, False)
        assert (cartpole.n_step, cartpole.num_tau_samples) == (3, 64)
        minatar = make_agent(name, make_env("Breakout-MinAtar")).config
        assert (minatar.learning_rate, minatar.target_update_period) == (1e-4, 1000)


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("iqn", {"kappa": 0.0}, "kappa must be a number > 0, got 0.0"),
        ("iqn", {"kappa": -1}, "kappa must be a number > 0, got -1"),
        ("iqn", {"num_tau_samples": 0}, "num_tau_samples must be an integer >= 1, got 0"),
        ("iqn", {"num_quantile_samples": 2.5}, "num_quantile_samples must be an integer >= 1"),
        ("iqn", {"loss": "mse"}, "loss 'mse' does not apply"),
        ("m-iqn", {"entropy_temperature": 0}, "entropy_temperature must be a number > 0, got 0"),
        ("m-iqn", {"munchausen_alpha": 1.5}, "munchausen_alpha must be a number in [0, 1]"),
        ("m-iqn", {"log_policy_clip": 0.5}, "log_policy_clip must be a number < 0, got 0.5"),
        ("m-iqn", {"double_q": True}, "double_q=True does not apply"),
    ],
)
def test_bad_config_names_the_value(name, options, message):
    with pytest.raises(AgentConfigError) as info:
        make_agent(name, make_env("CartPole-v1"), overrides=options)
    assert message in str(info.value)


def test_sweeps_take_both_agents_with_their_own_options():
    sweep = parse(
        {
            "name": "iqn",
            "agents": ["iqn", "m-iqn"],
            "envs": ["CartPole-v1", "Breakout-MinAtar"],
            "methods": ["dense", "prune"],
            "sparsities": [0.9],
            "steps": 30_000,
            "overrides": {"m-iqn": {"munchausen_alpha": 0.5}},
        }
    )
    groups = expand(sweep)
    check(groups)  # every group resolves
    assert len(groups) == 8 and groups[0].agent == "iqn"
    assert "m-iqn_Breakout-MinAtar_prune" in group_id(groups[-1])
    assert groups[-1].agent_options == {"munchausen_alpha": 0.5, "width": 1.0}
    assert resolve(groups[-1]).agent.config.munchausen_alpha == 0.5
    with pytest.raises(SweepSpecError, match="'miqn'"):
        parse({"name": "x", "agents": ["miqn"], "envs": ["CartPole-v1"], "methods": ["dense"]})


SMALL = {
    "hidden": (16, 16),
    "batch_size": 8,
    "min_replay": 64,
    "target_update_period": 40,
    "replay_capacity": 500,
    "num_tau_samples": 8,
    "num_tau_prime_samples": 8,
    "num_quantile_samples": 4,
}


def test_sparse_training_keeps_exact_mask_counts():
    # M-IQN runs IQN's network and quantile loss plus its own target: one run covers both.
    spec = TrainSpec(
        "m-iqn",
        "CartPole-v1",
        method="rigl",
        sparsities=(0.9,),
        steps=400,
        eval_interval=400,  # one chunk: one compilation
        eval_episodes=2,
        agent_options=SMALL,
        method_options={"update_interval": 20},
    )
    (result,) = train(spec)
    plan = resolve(spec)
    expected = sp.mask_counts(plan.methods["online"].kept_counts(plan.param_shapes["online"], 0.9))
    # ERK over 4x16, 16x16, 64x16, 16x2 (1376 weights) at 90%: density ε (n_in + n_out) /
    # (n_in n_out); the layers' budgets (size - floor(0.9 size), RigL's rule) are 7 + 26 +
    # 103 + 4 = 140 = ε (20 + 32 + 80 + 18), so 18.67, 29.87, 74.67, 16.8 are kept: zeros
    # floor(45.33), floor(226.13), floor(949.33), floor(15.2) leave 19, 30, 75, 17
    assert expected == {
        "encoder/dense_0": 19,
        "encoder/dense_1": 30,
        "cosine_embedding": 75,
        "head": 17,
    }
    (row,) = result.metrics  # after 85 updates, with a RigL topology update every 20
    counts = {k[len("active/") :]: v for k, v in row.items() if k.startswith("active/")}
    assert counts == expected
    assert row["weights_outside_mask"] == 0 and row["target_weights_outside_mask"] == 0
    assert np.isfinite(row["loss"]) and row["loss"] > 0
    assert result.summary["parameters"] == sum(expected.values()) + 16 + 16 + 16 + 2
