"""Host-side gymnasium MuJoCo envs: facts, seeding, auto-reset, time limits and evaluation."""

import gymnasium
import numpy as np
import pytest

from sparserl.envs import (
    ENVS,
    EnvConfigError,
    Evaluator,
    GymnasiumEnv,
    GymnasiumVector,
    JaxEnv,
    episode_seeds,
    evaluate_host,
    make_env,
)


@pytest.fixture(scope="module")
def cheetah() -> GymnasiumEnv:
    return make_env("HalfCheetah-v5")


@pytest.fixture(scope="module")
def hopper() -> GymnasiumEnv:
    return make_env("Hopper-v5")


def random_actions(env: GymnasiumEnv, seed: int, steps: int, num: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(env.action_low, env.action_high, (steps, num, *env.action_shape)).astype(
        np.float32
    )


def test_facts(cheetah, hopper):
    assert isinstance(cheetah, GymnasiumEnv) and ENVS["HalfCheetah-v5"].backend == "gymnasium"
    assert ENVS["CartPole-v1"].backend == "gymnax"
    assert cheetah.env_id == "HalfCheetah-v5" and cheetah.spec.family == "mujoco"
    assert cheetah.obs_shape == (17,) and cheetah.action_shape == (6,)
    assert cheetah.num_actions is None and not cheetah.discrete
    assert cheetah.max_episode_steps == 1000
    assert cheetah.action_low.dtype == np.float32 and cheetah.action_low.shape == (6,)
    np.testing.assert_array_equal(cheetah.action_low, -np.ones(6))
    np.testing.assert_array_equal(cheetah.action_high, np.ones(6))
    assert hopper.obs_shape == (11,) and hopper.action_shape == (3,)
    assert hopper.max_episode_steps == 1000
    assert hash(cheetah) == hash(make_env("HalfCheetah-v5"))
    with pytest.raises(EnvConfigError, match="HalfCheetah-v5"):
        make_env("HalfCheetah-v4")


def test_jax_env_action_bounds():
    pendulum = make_env("Pendulum-v1")
    assert isinstance(pendulum, JaxEnv)
    assert pendulum.action_low.dtype == np.float32
    np.testing.assert_array_equal(pendulum.action_low, [-2.0])
    np.testing.assert_array_equal(pendulum.action_high, [2.0])
    np.testing.assert_array_equal(make_env("MountainCarContinuous-v0").action_high, [1.0])
    cartpole = make_env("CartPole-v1")
    assert cartpole.action_low is None and cartpole.action_high is None
    hash(pendulum)  # still usable as a static / hashed value


def rollout(env: GymnasiumEnv, seeds, actions):
    with env.vector(len(seeds)) as vector:
        first = vector.reset(seeds)
        steps = [vector.step(a) for a in actions]
    return first, steps


def test_same_seeds_same_trajectories(cheetah):
    actions = random_actions(cheetah, 0, 20, 3)
    first, steps = rollout(cheetah, [1, 2, 3], actions)
    first2, steps2 = rollout(cheetah, [1, 2, 3], actions)
    np.testing.assert_array_equal(first, first2)
    for a, b in zip(steps, steps2, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
    assert first.shape == (3, 17) and first.dtype == np.float32
    assert steps[0].reward.shape == (3,) and steps[0].reward.dtype == np.float32
    # different seeds: different initial states, and the same actions then differ
    assert not np.array_equal(first[0], first[1])
    first3, steps3 = rollout(cheetah, [4, 2, 3], actions)
    assert not np.array_equal(first3[0], first[0])
    np.testing.assert_array_equal(first3[1:], first[1:])
    assert steps3[-1].reward[0] != steps[-1].reward[0]


def test_auto_reset_matches_raw_gymnasium(hopper):
    """Hopper falls under random actions: `final_obs` is the raw env's terminal obs, `obs` the
    first obs of the unseeded reset that follows, and both equal a hand-stepped raw env."""
    seed, steps = 7, 300
    actions = random_actions(hopper, 1, steps, 1)
    raw = gymnasium.make("Hopper-v5")
    raw_obs, _ = raw.reset(seed=seed)
    vector = GymnasiumVector(hopper, 1)
    obs = vector.reset([seed])
    np.testing.assert_array_equal(obs[0], raw_obs.astype(np.float32))
    ends = []
    for t in range(steps):
        step = vector.step(actions[t])
        raw_obs, raw_reward, term, trunc, _ = raw.step(actions[t][0])
        np.testing.assert_array_equal(step.final_obs[0], raw_obs.astype(np.float32))
        assert step.reward[0] == np.float32(raw_reward)
        assert (step.terminated[0], step.truncated[0]) == (term, trunc)
        if term or trunc:
            ends.append(t)
            raw_obs, _ = raw.reset()
            assert term and not trunc  # Hopper terminates early (falls), not at the time limit
        np.testing.assert_array_equal(step.obs[0], raw_obs.astype(np.float32))
        # obs and final_obs differ exactly on the step an episode ended
        assert np.array_equal(step.obs[0], step.final_obs[0]) == (not (term or trunc))
    vector.close()
    raw.close()
    assert len(ends) >= 2 and ends[0] < 100


def test_truncation_at_time_limit(cheetah):
    """HalfCheetah never terminates: step 1000 is truncated (time limit), then auto-reset."""
    vector = cheetah.vector(2)
    vector.reset([0, 1])
    zeros = np.zeros((2, 6), np.float32)
    for _ in range(999):
        step = vector.step(zeros)
        assert not step.terminated.any() and not step.truncated.any()
    step = vector.step(zeros)
    np.testing.assert_array_equal(step.truncated, [True, True])
    np.testing.assert_array_equal(step.terminated, [False, False])
    assert not np.array_equal(step.obs, step.final_obs)
    step = vector.step(zeros)  # the new episode runs on
    assert not step.truncated.any()
    vector.close()


def raw_returns(backend_id: str, seeds: np.ndarray, action: np.ndarray) -> np.ndarray:
    returns = []
    for seed in seeds.ravel():
        env = gymnasium.make(backend_id)
        env.reset(seed=int(seed))
        total, done = 0.0, False
        while not done:
            _, r, term, trunc, _ = env.step(action)
            total += r
            done = term or trunc
        returns.append(total)
        env.close()
    return np.array(returns).reshape(seeds.shape)


def test_evaluate_host_matches_raw_gymnasium(hopper):
    runs, episodes, seed = 2, 3, 11
    action = np.array([0.5, -0.5, 0.25], np.float32)
    calls = []

    def policy(obs):
        calls.append(obs.shape)
        return np.broadcast_to(action, (*obs.shape[:2], 3))

    seeds = episode_seeds(seed, runs, episodes)
    assert len(np.unique(seeds)) == runs * episodes
    expected = raw_returns("Hopper-v5", seeds, action).mean(axis=1)
    result = evaluate_host(hopper, policy, runs, episodes, seed)
    assert result.shape == (runs,)
    np.testing.assert_array_equal(result, expected)
    assert all(shape == (runs, episodes, 11) for shape in calls)
    assert len(calls) < hopper.max_episode_steps  # the constant action falls well before 1000

    # an Evaluator reuses its envs; each result depends only on the seed
    with Evaluator(hopper, runs, episodes) as evaluator:
        other = evaluator.evaluate(policy, seed + 1)
        np.testing.assert_array_equal(evaluator.evaluate(policy, seed), expected)
    assert not np.array_equal(other, expected)
