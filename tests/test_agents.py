"""The agents' maths on tiny hand-checkable cases: TD targets, double Q, C51, ε schedules."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sparserl.agents import (
    AGENTS,
    DQN,
    AgentConfigError,
    Rainbow,
    RainbowConfig,
    ValueConfig,
    agent_entry,
    env_preset,
    epsilon_greedy,
    linearly_decaying_epsilon,
    make_agent,
    method_preset,
)
from sparserl.agents.value import losses
from sparserl.envs import make_env

KEY = jax.random.key(0)  # DQN and Rainbow draw nothing from it


def test_huber_is_quadratic_inside_one_and_linear_outside():
    values = losses.huber(jnp.array([0.0, 0.5, -1.0, 2.0, -3.0]))
    np.testing.assert_allclose(values, [0.0, 0.125, 0.5, 1.5, 2.5])


def test_td_target_masks_terminal_states():
    next_q = jnp.array([[1.0, 3.0], [5.0, 2.0]])
    targets = losses.td_targets(
        jnp.array([1.0, 1.0]), jnp.array([0.99, 0.0]), next_q, jnp.array([1, 0])
    )
    np.testing.assert_allclose(targets, [1.0 + 0.99 * 3.0, 1.0])


def test_double_q_selects_with_online_and_evaluates_with_target():
    online = jnp.array([[1.0, 2.0], [3.0, 0.0]])
    target = jnp.array([[5.0, 1.0], [0.0, 4.0]])
    double = losses.greedy_next_actions(online, target, double_q=True)
    plain = losses.greedy_next_actions(online, target, double_q=False)
    np.testing.assert_array_equal(double, [1, 0])
    np.testing.assert_array_equal(plain, [0, 1])
    ones, zeros = jnp.ones(2), jnp.zeros(2)
    np.testing.assert_allclose(losses.td_targets(zeros, ones, target, double), [1.0, 0.0])
    np.testing.assert_allclose(losses.td_targets(zeros, ones, target, plain), [5.0, 4.0])


def test_c51_projection_splits_mass_between_neighbours():
    support = jnp.array([-1.0, 0.0, 1.0])
    probs = jnp.array([[0.0, 1.0, 0.0], [0.2, 0.3, 0.5], [0.2, 0.3, 0.5]])
    # row 0: all mass at z=0 shifted to 0.5 -> half on 0, half on 1
    # row 1: terminal (discount 0), return -2 -> everything clipped onto -1
    # row 2: return 0, discount 0.5: atoms -0.5, 0, 0.5 -> [0.1, 0.1+0.3+0.25, 0.25]
    projected = losses.categorical_projection(
        support, probs, jnp.array([0.5, -2.0, 0.0]), jnp.array([1.0, 0.0, 0.5])
    )
    np.testing.assert_allclose(
        projected, [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0], [0.1, 0.65, 0.25]], atol=1e-6
    )


def test_c51_projection_conserves_probability():
    support = jnp.linspace(-10, 10, 51)
    probs = jax.nn.softmax(jax.random.normal(jax.random.key(0), (8, 51)))
    returns = jax.random.normal(jax.random.key(1), (8,)) * 5
    projected = losses.categorical_projection(support, probs, returns, jnp.full(8, 0.99))
    np.testing.assert_allclose(projected.sum(-1), np.ones(8), rtol=1e-5)


def _table_apply(params, obs):
    """A 'network' that looks Q-values up in a table: obs is a state index."""
    return params["q"][obs]


def test_dqn_loss_is_huber_of_the_td_error():
    agent = DQN(ValueConfig())
    online = {"q": jnp.array([[0.0, 1.0], [2.0, 0.5]])}
    target = {"q": jnp.array([[3.0, 0.0], [0.0, 10.0]])}
    batch = {
        "obs": jnp.array([0, 1]),
        "action": jnp.array([1, 0]),
        "return": jnp.array([0.5, 1.0]),
        "next_obs": jnp.array([1, 0]),
        "discount": jnp.array([0.9, 0.0]),
    }
    # td errors: 1 - (0.5 + 0.9 * 10) = -8.5 ; 2 - 1 = 1
    loss = agent.per_example_loss(_table_apply, online, target, batch, KEY)
    np.testing.assert_allclose(loss, [8.0, 0.5])
    double = DQN(ValueConfig(double_q=True))
    # online argmax at s'=1 is action 0 -> target value 0: error 1 - 0.5 = 0.5
    loss = double.per_example_loss(_table_apply, online, target, batch, KEY)
    np.testing.assert_allclose(loss, [0.125, 0.5])


def test_rainbow_loss_is_cross_entropy_to_the_projected_target():
    agent = Rainbow(RainbowConfig(num_atoms=3, v_min=-1.0, v_max=1.0))
    logits = jnp.log(jnp.array([[[0.2, 0.3, 0.5], [1 / 3, 1 / 3, 1 / 3]]]))  # 1 state, 2 actions
    target_logits = jnp.log(jnp.array([[[0.0, 1.0, 0.0], [1.0, 1e-12, 1e-12]]]) + 1e-30)
    batch = {
        "obs": jnp.array([0]),
        "action": jnp.array([0]),
        "return": jnp.array([0.5]),
        "next_obs": jnp.array([0]),
        "discount": jnp.array([1.0]),
    }
    loss = agent.per_example_loss(_table_apply, {"q": logits}, {"q": target_logits}, batch, KEY)
    # greedy next action under the target: action 0 (mean 0 > mean -1); its shifted mass at
    # 0.5 projects to [0, 0.5, 0.5] -> loss = -(0.5 log 0.3 + 0.5 log 0.5)
    np.testing.assert_allclose(loss, [-(0.5 * np.log(0.3) + 0.5 * np.log(0.5))], rtol=1e-5)
    q = agent.q_values(_table_apply, {"q": logits}, jnp.array([0]), KEY)
    np.testing.assert_allclose(q[0], [0.3, 0.0], atol=1e-6)


def test_dopamine_epsilon_schedule():
    eps = [
        float(linearly_decaying_epsilon(jnp.asarray(t), 1000, 500, 0.01))
        for t in (0, 500, 1000, 1500, 3000)
    ]
    np.testing.assert_allclose(eps, [1.0, 1.0, 0.505, 0.01, 0.01], rtol=1e-6)


def test_epsilon_greedy_is_greedy_at_zero_and_uniform_at_one():
    q = jnp.array([0.0, 2.0, 1.0])
    keys = jax.random.split(jax.random.key(0), 3000)
    greedy = jax.vmap(epsilon_greedy, in_axes=(0, None, None))(keys, q, 0.0)
    assert set(np.asarray(greedy).tolist()) == {1}
    uniform = jax.vmap(epsilon_greedy, in_axes=(0, None, None))(keys, q, 1.0)
    np.testing.assert_allclose(np.bincount(np.asarray(uniform)) / 3000, [1 / 3] * 3, atol=0.03)


def test_replay_ratio_gives_period_and_updates():
    assert ValueConfig(replay_ratio=0.25).update_schedule() == (4, 1)
    assert ValueConfig(replay_ratio=1).update_schedule() == (1, 1)
    assert ValueConfig(replay_ratio=2).update_schedule() == (1, 2)
    with pytest.raises(AgentConfigError, match="0.3"):
        ValueConfig(replay_ratio=0.3)


def test_make_agent_errors_name_the_bad_value():
    env = make_env("CartPole-v1")
    with pytest.raises(AgentConfigError, match="'ppo2'.*'dqn', 'rainbow'"):
        make_agent("ppo2", env)
    with pytest.raises(AgentConfigError, match="continuous actions"):
        make_agent("dqn", make_env("Pendulum-v1"))
    with pytest.raises(AgentConfigError, match="no option.*'learnin_rate'"):
        make_agent("dqn", env, overrides={"learnin_rate": 1e-3})
    with pytest.raises(AgentConfigError, match="no preset 'mujoco'"):
        make_agent("dqn", env, preset="mujoco")


def test_presets_follow_the_environment_family():
    cartpole = make_agent("dqn", make_env("CartPole-v1")).config
    assert (cartpole.hidden, cartpole.batch_size, cartpole.min_replay) == ((512, 512), 128, 500)
    assert cartpole.target_update_period == 500 and cartpole.learning_rate == 3e-4
    assert cartpole.double_q and not ValueConfig().double_q
    atari = ValueConfig()
    assert (atari.learning_rate, atari.adam_eps, atari.batch_size) == (6.25e-5, 1.5e-4, 32)
    assert (atari.target_update_period, atari.min_replay) == (8000, 20_000)
    assert (atari.epsilon_train, atari.epsilon_decay_steps, atari.epsilon_eval) == (
        0.01,
        250_000,
        0.001,
    )
    rainbow = make_agent("rainbow", make_env("CartPole-v1")).config
    assert (rainbow.n_step, rainbow.num_atoms, rainbow.prioritized) == (3, 51, True)


def test_atari_100k_presets_follow_table_1_and_dopamine():
    pong = make_env("ALE/Pong-v5")
    der = make_agent("rainbow", pong, preset="der").config
    drq = make_agent("dqn", pong, preset="drq_eps").config
    for cfg in (der, drq):  # Obando-Ceron et al. 2024, Table 1
        assert (cfg.learning_rate, cfg.adam_eps, cfg.batch_size, cfg.gamma) == (
            1e-4,
            1.5e-4,
            32,
            0.99,
        )
        assert (cfg.n_step, cfg.replay_ratio, cfg.min_replay, cfg.replay_capacity) == (
            10,
            1.0,
            1_600,
            1_000_000,
        )
        assert (cfg.epsilon_train, cfg.epsilon_eval, cfg.weight_decay) == (0.01, 0.001, 0.0)
        assert cfg.torso == "nature_cnn" and cfg.width == 1.0
        assert cfg.double_q and cfg.dueling  # Dopamine's DER.gin / DrQ_eps.gin
    assert (der.epsilon_decay_steps, der.target_update_period, der.num_atoms) == (2_000, 2_000, 51)
    assert der.prioritized and not der.data_augmentation
    assert (drq.epsilon_decay_steps, drq.target_update_period) == (5_000, 1)
    assert drq.data_augmentation and drq.loss == "huber"
    assert not ValueConfig().data_augmentation


def test_env_preset_turns_sticky_actions_off_for_atari_100k_only():
    atari_100k = {"repeat_action_probability": 0.0, "terminal_on_life_loss": True}
    assert env_preset("rainbow", "der") == atari_100k
    assert env_preset("dqn", "drq_eps") == atari_100k
    assert env_preset("dqn", "atari") == {} and env_preset("rainbow", None) == {}
    env_preset("dqn", "drq_eps")["repeat_action_probability"] = 0.25  # a copy
    assert env_preset("dqn", "drq_eps") == atari_100k


def test_data_augmentation_must_be_a_bool():
    with pytest.raises(AgentConfigError, match="data_augmentation must be True or False.*'yes'"):
        ValueConfig(data_augmentation="yes")


def test_builtin_agents_are_registered_with_their_loop_and_networks():
    assert list(AGENTS) == ["dqn", "rainbow", "iqn", "m-iqn", "sac", "td3", "ppo"]
    declared = {n: (e.family, e.networks) for n, e in AGENTS.items()}
    value, actor_critic = ("online",), ("actor", "critic")
    assert declared == {
        "dqn": ("value", value),
        "rainbow": ("value", value),
        "iqn": ("value", value),
        "m-iqn": ("value", value),
        "sac": ("off_policy", actor_critic),
        "td3": ("off_policy", actor_critic),
        "ppo": ("on_policy", actor_critic),
    }
    entry = agent_entry("rainbow")
    assert (entry.agent, entry.config) == (Rainbow, RainbowConfig)
    assert list(entry.presets) == ["atari", "der", "classic_control", "minatar"]
    assert entry.presets["der"]["num_atoms"] == 51 and entry.env_presets["der"] == {
        "repeat_action_probability": 0.0,
        "terminal_on_life_loss": True,
    }
    # the sparse-method side of a paper preset: DS-TD3's lambdas for the environment
    ds = method_preset("td3", "ds-td3", "HalfCheetah-v5")
    assert ds["method"] == "ds" and ds["networks"]["actor"]["er_lambda"] == {
        "encoder/dense_0": 7.0,
        "encoder/dense_1": 64.0,
    }
    assert method_preset("td3", "mujoco", "HalfCheetah-v5") is None
    with pytest.raises(AgentConfigError, match=r"^unknown agent 'a2c'; choose one of \['dqn'"):
        agent_entry("a2c")
    with pytest.raises(AgentConfigError, match=r"^agent 'sac' has no preset 'minatar'; choose one"):
        make_agent("sac", make_env("Pendulum-v1"), preset="minatar")
