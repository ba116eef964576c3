"""Atari on the ALE, Dopamine's preprocessing: frame skip and max-pool, area resampling, frame
stacks, sticky-action seeding, raw and clipped rewards, pixel noise, game lists, registry."""

import dataclasses

import ale_py.roms
import gymnasium
import numpy as np
import pytest

from sparserl.envs import (
    ATARI_60,
    ATARI_100K,
    ENVS,
    GAME_LISTS,
    GRAESSER_15,
    AreaResize,
    AtariEnv,
    EnvConfigError,
    FrameStack,
    add_pixel_noise,
    ale_env_id,
    area_weights,
    clip_reward,
    make_env,
)
from sparserl.stats import ATARI_RANDOM_HUMAN, human_normalized


@pytest.fixture(scope="module")
def pong() -> AtariEnv:
    return make_env("ALE/Pong-v5")


def area_reference(frames: np.ndarray, resize: AreaResize) -> np.ndarray:
    """The exact area mean in integers, rounded half to even: the full weight products."""
    sums = resize.rows @ frames.astype(np.int64) @ resize.cols.T
    quotient, remainder = np.divmod(sums, resize.denominator)
    up = (2 * remainder > resize.denominator) | (
        (2 * remainder == resize.denominator) & (quotient % 2 == 1)
    )
    return (quotient + up).astype(np.uint8)


def test_area_weights_by_hand():
    weights, denominator = area_weights(4, 2)
    assert denominator == 2 and weights.tolist() == [[1, 1, 0, 0], [0, 0, 1, 1]]
    # 5 -> 2: cells of 2.5 pixels; the middle pixel is half in each: 0.4, 0.4, 0.2
    weights, denominator = area_weights(5, 2)
    assert denominator == 5 and weights.tolist() == [[2, 2, 1, 0, 0], [0, 0, 1, 2, 2]]
    rows, row_den = area_weights(210, 84)
    cols, col_den = area_weights(160, 84)
    assert (row_den, col_den) == (5, 40)
    assert (rows.sum(axis=1) == 5).all() and (cols.sum(axis=1) == 40).all()
    assert (rows.sum(axis=0) == 2).all() and (cols.sum(axis=0) == 21).all()  # full coverage
    with pytest.raises(ValueError, match="src=2, dst=4"):
        area_weights(2, 4)


def test_area_resize_by_hand():
    frame = np.array(
        [[10, 20, 30, 40], [50, 60, 70, 80], [0, 255, 255, 255], [1, 2, 3, 4]], np.uint8
    )
    # means 35, 55, 64.5 (a tie: to even, 64), 129.25
    assert AreaResize((4, 4), (2, 2))(frame).tolist() == [[35, 55], [64, 129]]
    # 5x5 -> 2x2 with weights (0.4, 0.4, 0.2) per axis: f = 10 i + j averages to 10 * 0.8 +
    # 0.8 = 8.8 at the top left, then 11.2, 32.8, 35.2
    linear = (10 * np.arange(5)[:, None] + np.arange(5)[None, :]).astype(np.uint8)
    assert AreaResize((5, 5), (2, 2))(linear).tolist() == [[9, 11], [33, 35]]
    # a centre pixel counts 0.2 * 0.2 in every output, a corner 0.4 * 0.4 in its own
    sparse = np.zeros((5, 5), np.uint8)
    sparse[2, 2], sparse[0, 0] = 250, 100
    assert AreaResize((5, 5), (2, 2))(sparse).tolist() == [[26, 10], [10, 10]]


def test_area_resize_equals_the_full_weight_products(pong):
    rng = np.random.default_rng(0)
    for screen in ((210, 160), (250, 160)):  # most games; AirRaid
        resize = AreaResize(screen)
        frames = rng.integers(0, 256, (3, *screen), dtype=np.uint8)
        out = resize(frames)
        assert out.shape == (3, 84, 84) and out.dtype == np.uint8
        np.testing.assert_array_equal(out, area_reference(frames, resize))
    raw = pong.make()
    screen, _ = raw.reset(seed=0)
    raw.close()
    assert screen.shape == (210, 160) and screen.dtype == np.uint8
    frame = AreaResize((210, 160))(screen)
    assert frame.shape == (84, 84) and frame.dtype == np.uint8
    np.testing.assert_array_equal(frame, area_reference(screen, AreaResize((210, 160))))
    assert 0 < frame.mean() < 255


def test_frame_stack_zeros_before_the_episode_start():
    stack = FrameStack(2, frame_shape=(1, 1), size=3)
    first = stack.start(np.array([[[1]], [[2]]], np.uint8))
    assert first[:, 0, 0].tolist() == [[0, 0, 1], [0, 0, 2]]
    stack.push(np.array([[[3]], [[4]]], np.uint8))
    obs = stack.push(np.array([[[5]], [[6]]], np.uint8))
    assert obs[:, 0, 0].tolist() == [[1, 3, 5], [2, 4, 6]]
    obs = stack.push(np.array([[[7]], [[8]]], np.uint8))
    assert obs[:, 0, 0].tolist() == [[3, 5, 7], [4, 6, 8]]
    # env 1 starts a new episode: its history is zeros, env 0 keeps its own
    obs = stack.start(np.array([[[0]], [[9]]], np.uint8), np.array([False, True]))
    assert obs[:, 0, 0].tolist() == [[3, 5, 7], [0, 0, 9]]
    obs[:] = 99  # a copy: the stack is unchanged
    assert stack.push(np.array([[[10]], [[11]]], np.uint8))[:, 0, 0].tolist() == [
        [5, 7, 10],
        [0, 9, 11],
    ]


def test_steps_against_a_raw_env_to_game_over(pong):
    """Every agent step of a Pong episode against a raw one-frame env replaying the same seed and
    actions: 4 frames per step, rewards summed raw, the max of the last two screens resized."""
    actions = np.random.default_rng(1).integers(0, pong.num_actions, 27_000)
    raw = pong.make()
    raw.reset(seed=3)
    resize = AreaResize((210, 160))
    with pong.vector(1) as vector:
        obs = vector.reset([3])
        rewards = []
        for action in actions:
            step = vector.step(np.array([action]))
            screens, reward = [], 0.0
            for _ in range(4):
                screen, r, terminated, truncated, _ = raw.step(action)
                screens.append(screen)
                reward += r
                if terminated:
                    break
            # an episode ending before the step's last frame: its terminal screen alone
            pooled = np.maximum(screens[2], screens[3]) if len(screens) == 4 else screens[-1]
            np.testing.assert_array_equal(step.final_frame[0], resize(pooled))
            np.testing.assert_array_equal(step.final_obs[0, ..., -1], step.final_frame[0])
            np.testing.assert_array_equal(step.final_obs[0, ..., :-1], obs[0, ..., 1:])
            assert step.reward[0] == reward and step.terminated[0] == terminated
            assert not (truncated or step.truncated[0])
            rewards.append(reward)
            obs = step.obs
            if terminated:
                break
    raw.close()
    # Pong ends when a side reaches 21 points: a random policy loses it
    assert 500 < len(rewards) < 27_000 and rewards.count(-1.0) == 21 and sum(rewards) <= -15
    assert len(screens) == 2  # this seed's game ends on a step's 2nd frame: that case is covered
    assert (step.obs[0, ..., :-1] == 0).all() and (step.obs[0, ..., -1] > 0).any()
    np.testing.assert_array_equal(step.frame[0], step.obs[0, ..., -1])


def test_sticky_actions_are_reproducible_by_seed(pong):
    actions = np.random.default_rng(2).integers(0, pong.num_actions, (80, 1))

    def play(env: AtariEnv, seed: int) -> tuple[np.ndarray, np.ndarray]:
        with env.vector(1) as vector:
            frames, rewards = [vector.reset([seed])[0, ..., -1]], []
            for action in actions:
                step = vector.step(action)
                frames.append(step.frame[0])
                rewards.append(step.reward[0])
        return np.stack(frames), np.array(rewards)

    frames, rewards = play(pong, 7)
    same_frames, same_rewards = play(pong, 7)
    np.testing.assert_array_equal(frames, same_frames)
    np.testing.assert_array_equal(rewards, same_rewards)
    other_frames, _ = play(pong, 8)
    assert (frames != other_frames).any(axis=(1, 2)).sum() > 10
    # without sticky actions Pong is deterministic: the seed changes nothing
    plain = dataclasses.replace(pong, repeat_action_probability=0.0)
    np.testing.assert_array_equal(play(plain, 7)[0], play(plain, 8)[0])


def test_truncation_resets_with_a_fresh_stack(pong):
    capped = dataclasses.replace(pong, max_episode_steps=5)
    with capped.vector(2) as vector:
        first = vector.reset([0, 1])
        assert first.shape == (2, 84, 84, 4) and first.dtype == np.uint8
        assert (first[..., :-1] == 0).all() and (first[..., -1] > 0).any()
        for _ in range(4):
            step = vector.step(np.array([2, 3]))
            assert not (step.terminated.any() or step.truncated.any())
        step = vector.step(np.array([2, 3]))
    assert step.truncated.tolist() == [True, True] and not step.terminated.any()
    assert (step.final_obs[..., 1:] > 0).any(axis=(1, 2)).all()  # the episode's last 4 frames
    np.testing.assert_array_equal(step.final_frame, step.final_obs[..., -1])
    assert (step.obs[..., :-1] == 0).all()  # the new episode: zeros before its first frame
    np.testing.assert_array_equal(step.frame, step.obs[..., -1])
    np.testing.assert_array_equal(step.frame, first[..., -1])  # Pong's reset screen


def test_life_loss_ends_the_agents_episode_only_when_asked():
    breakout = make_env("ALE/Breakout-v5")  # 5 lives

    def play(env: AtariEnv) -> list:
        steps = []
        with env.vector(1) as vector:
            vector.reset([3])
            while not steps or not steps[-1].terminated[0]:
                steps.append(vector.step(np.array([len(steps) % 4])))  # FIRE launches the ball
        return steps

    plain = play(breakout)
    asked = play(dataclasses.replace(breakout, terminal_on_life_loss=True))
    assert len(plain) == len(asked) < 5_000  # the emulator is the same either way
    assert not any(step.life_lost[0] for step in plain)
    lost = [t for t, step in enumerate(asked) if step.life_lost[0]]
    assert len(lost) == 4  # lives 5 -> 1; the fifth ends the game (terminated, not life_lost)
    for t in lost:
        step, same = asked[t], plain[t]
        assert not step.terminated[0] and step.reward[0] == same.reward[0]
        assert (step.obs[0, ..., :-1] == 0).all()  # a fresh stack on the same game screen
        np.testing.assert_array_equal(step.obs[0, ..., -1], same.obs[0, ..., -1])
        np.testing.assert_array_equal(step.final_obs, same.final_obs)
        assert (same.obs[0, ..., :-1] > 0).any()  # without the option the stack goes on
    with pytest.raises(EnvConfigError, match="terminal_on_life_loss must be True or False"):
        dataclasses.replace(breakout, terminal_on_life_loss=1)


def test_rewards_are_raw_and_clip_to_unit_range():
    invaders = make_env("ALE/SpaceInvaders-v5")
    actions = np.random.default_rng(0).integers(0, invaders.num_actions, (300, 1))
    with invaders.vector(1) as vector:
        vector.reset([0])
        rewards = np.array([vector.step(action).reward[0] for action in actions])
    assert rewards.max() >= 5  # an alien is worth 5 to 30 points
    clipped = clip_reward(rewards)
    assert set(np.unique(clipped)) <= {0.0, 1.0} and clipped.max() == 1.0
    assert clip_reward(np.array([-3.0, -0.5, 0.0, 0.25, 2.0])).tolist() == [
        -1.0,
        -0.5,
        0.0,
        0.25,
        1.0,
    ]


def test_pixel_noise():
    frames = np.random.default_rng(0).integers(0, 256, (4, 84, 84), dtype=np.uint8)
    np.testing.assert_array_equal(add_pixel_noise(frames, 0.0, np.random.default_rng(1)), frames)
    noisy = add_pixel_noise(frames, 10.0, np.random.default_rng(1))
    assert noisy.dtype == np.uint8 and noisy.shape == frames.shape
    np.testing.assert_array_equal(noisy, add_pixel_noise(frames, 10.0, np.random.default_rng(1)))
    assert (noisy != add_pixel_noise(frames, 10.0, np.random.default_rng(2))).any()
    mid = np.full((200, 200), 128, np.uint8)  # far from the bounds: unclipped noise
    noise = add_pixel_noise(mid, 10.0, np.random.default_rng(3)).astype(float) - 128
    assert abs(noise.mean()) < 0.1 and noise.std() == pytest.approx(10.0, rel=0.02)
    dark = add_pixel_noise(np.zeros((100, 100), np.uint8), 30.0, np.random.default_rng(4))
    assert dark.min() == 0 and (dark == 0).mean() == pytest.approx(0.5, abs=0.03)  # clipped
    with pytest.raises(ValueError, match="got -1.0"):
        add_pixel_noise(frames, -1.0, np.random.default_rng(0))


def test_evaluator_raw_returns_cap_and_noise(pong):
    capped = dataclasses.replace(pong, max_episode_steps=30)
    seen = []

    def policy(obs: np.ndarray) -> np.ndarray:
        seen.append(obs)
        return np.zeros(obs.shape[:2], np.int64)

    with capped.evaluator(runs=2, episodes=1) as evaluator:
        returns = evaluator.evaluate(policy, seed=0)
        assert returns.shape == (2,) and (returns == 0).all()  # no point in 30 steps
        assert len(seen) == 30 and seen[0].shape == (2, 1, 84, 84, 4)
        assert seen[0].dtype == np.uint8 and (seen[0][..., :-1] == 0).all()
        clean = seen[-1]
        seen.clear()
        evaluator.evaluate(policy, seed=0, noise_sigma=5.0)
        assert len(seen) == 30 and (seen[-1] != clean).mean() > 0.5
        noisy = seen[-1]
        seen.clear()
        evaluator.evaluate(policy, seed=0, noise_sigma=5.0)
        np.testing.assert_array_equal(seen[-1], noisy)
        with pytest.raises(ValueError, match="got -2"):
            evaluator.evaluate(policy, seed=0, noise_sigma=-2)


def test_game_lists_and_roms():
    assert len(GRAESSER_15) == len(set(GRAESSER_15)) == 15
    assert len(ATARI_100K) == len(set(ATARI_100K)) == 26
    assert len(ATARI_60) == len(set(ATARI_60)) == 60
    assert set(GRAESSER_15) | set(ATARI_100K) <= set(ATARI_60)
    assert GAME_LISTS == {"graesser15": GRAESSER_15, "atari100k": ATARI_100K, "atari60": ATARI_60}
    roms = set(ale_py.roms.get_all_rom_ids())
    for game in ATARI_60:
        rom = gymnasium.spec(ale_env_id(game)).kwargs["game"]
        assert rom in roms and ale_py.roms.get_rom_path(rom) is not None
    unscored = set(ATARI_60) - set(ATARI_RANDOM_HUMAN)
    assert unscored == {"AirRaid", "Carnival", "ElevatorAction", "JourneyEscape", "Pooyan"}
    assert set(ATARI_RANDOM_HUMAN) - set(ATARI_60) == {"Defender", "Surround"}
    with pytest.raises(ValueError, match=r"'ALE/Carnival-v5'.*AirRaid, Carnival.*with one: Alien"):
        human_normalized([1.0], "ALE/Carnival-v5")


def test_registry_ids_resolve_to_atari_envs(pong):
    atari_ids = [env_id for env_id, spec in ENVS.items() if spec.backend == "ale"]
    assert atari_ids == [ale_env_id(game) for game in ATARI_60]
    assert all(ENVS[i].family == "atari" and ENVS[i].torso == "nature_cnn" for i in atari_ids)
    assert isinstance(pong, AtariEnv) and pong.env_id == "ALE/Pong-v5" and pong.game == "pong"
    assert pong.obs_shape == (84, 84, 4) and pong.action_shape == () and pong.discrete
    assert pong.max_episode_steps == 27_000 and pong.repeat_action_probability == 0.25
    assert pong.action_low is None and pong == make_env("ALE/Pong-v5")
    counts = {game: make_env(ale_env_id(game)).num_actions for game in ("Breakout", "MsPacman")}
    assert pong.num_actions == 6 and counts == {"Breakout": 4, "MsPacman": 9}


def test_bad_ids_and_parameters(pong):
    with pytest.raises(EnvConfigError, match=r"'ALE/Pong-v4'.*ALE/Pong-v5"):
        make_env("ALE/Pong-v4")
    with pytest.raises(ValueError, match=r"'Tetris'.*AirRaid"):
        ale_env_id("Tetris")
    with pytest.raises(EnvConfigError, match="repeat_action_probability.*got 1.5"):
        dataclasses.replace(pong, repeat_action_probability=1.5)
    with pytest.raises(EnvConfigError, match="max_episode_steps.*got 0"):
        dataclasses.replace(pong, max_episode_steps=0)
    with pytest.raises(ValueError, match="num must be at least 1, got 0"):
        pong.vector(0)
    with pytest.raises(ValueError, match="runs and episodes must be at least 1, got 1, 0"):
        pong.evaluator(1, 0)
    with pytest.raises(ValueError, match=r"frames of shape \(84, 84\), expected"):
        AreaResize((210, 160))(np.zeros((84, 84), np.uint8))
    with pong.vector(2) as vector:
        with pytest.raises(ValueError, match="expected 2 seeds, got 1"):
            vector.reset([0])
        vector.reset([0, 1])
        with pytest.raises(ValueError, match=r"actions of shape \(3,\), expected \(2,\)"):
            vector.step(np.array([0, 1, 2]))
        with pytest.raises(ValueError, match="must be integers, got dtype float64"):
            vector.step(np.array([0.0, 1.0]))
        with pytest.raises(ValueError, match=r"actions \[6, -1\] out of range.*0\.\.5"):
            vector.step(np.array([6, -1]))
