"""Compact frame replay: stacks rebuilt by index with zeros before an episode's start, n-step
windows, which slots can be drawn (complete, not truncated, not overwritten), wrap-around."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sparserl.replay import frames

N_STEP = 3


def fill(capacity: int, ends: dict[int, str], steps: int) -> frames.FrameReplayState:
    """A buffer after `steps` steps; step t has frame value t+1 (2x2), reward t+1, action t;
    `ends` maps a step to 'terminal' or 'truncated'."""
    state = frames.init_frame_replay((2, 2), capacity)
    add = jax.jit(frames.add, static_argnums=6)
    for t in range(steps):
        kind = ends.get(t)
        state = add(
            state,
            jnp.full((2, 2), t + 1, jnp.uint8),
            jnp.int32(t),
            jnp.float32(t + 1),
            jnp.asarray(kind == "terminal"),
            jnp.asarray(kind is not None),
            N_STEP,
        )
    return state


def stack_values(state, slot: int) -> list[int]:
    stack = frames.stacked_frames(state, jnp.array([slot]))[0]
    assert stack.shape == (2, 2, frames.STACK_SIZE) and stack.dtype == jnp.uint8
    assert (stack == stack[0, 0]).all()  # each frame is constant
    return [int(v) for v in stack[0, 0]]


def drawable(state) -> list[int]:
    leaves = state.tree.shape[0] // 2
    return [int(s) for s in np.flatnonzero(np.asarray(state.tree[leaves:]))]


def test_stacks_start_with_zeros_at_each_episode_start():
    state = fill(16, {4: "terminal"}, 9)  # episode A: steps 0-4, episode B: steps 5-8
    assert stack_values(state, 0) == [0, 0, 0, 1]
    assert stack_values(state, 1) == [0, 0, 1, 2]
    assert stack_values(state, 4) == [2, 3, 4, 5]
    assert stack_values(state, 5) == [0, 0, 0, 6]
    assert stack_values(state, 7) == [0, 6, 7, 8]


def test_nstep_windows_stop_at_the_episode_end():
    state = fill(16, {4: "terminal"}, 9)
    batch = frames.nstep_frame_batch(state, jnp.array([0, 3, 4]), N_STEP, 0.5)
    # slot 0: 1 + .5*2 + .25*3, bootstraps from s_3 with .5**3
    # slot 3: 4 + .5*5 then the terminal; slot 4: the terminal step alone
    np.testing.assert_allclose(batch["return"], [2.75, 6.5, 5.0])
    np.testing.assert_allclose(batch["discount"], [0.125, 0.0, 0.0])
    np.testing.assert_array_equal(batch["action"], [0, 3, 4])
    assert [int(v) for v in batch["obs"][0, 0, 0]] == [0, 0, 0, 1]
    assert [int(v) for v in batch["next_obs"][0, 0, 0]] == [1, 2, 3, 4]


def test_only_complete_untruncated_windows_are_drawn():
    # a truncation (time limit) ends step 6; 12 steps written
    state = fill(32, {6: "truncated"}, 12)
    # slot s needs slot s + 3 written (s <= 8); slots 4-6 have windows ending at the
    # truncation, which cannot bootstrap
    assert drawable(state) == [0, 1, 2, 3, 7, 8]
    assert stack_values(state, 7) == [0, 0, 0, 8]
    indices, probabilities = jax.jit(frames.sample_indices, static_argnums=2)(
        state, jax.random.key(0), 512
    )
    assert set(np.asarray(indices).tolist()) == {0, 1, 2, 3, 7, 8}
    np.testing.assert_allclose(probabilities, 1 / 6)


def test_wrap_around_zeroes_overwritten_frames_and_resets_their_priority():
    state = fill(8, {}, 11)  # steps 3..10 are stored; step t sits in slot t % 8
    assert int(state.size) == 8 and int(state.position) == 3
    assert stack_values(state, 3) == [0, 0, 0, 4]  # the oldest: its past was overwritten
    assert stack_values(state, 5) == [0, 4, 5, 6]
    assert stack_values(state, 1) == [7, 8, 9, 10]  # across the ring's end
    # drawable: steps 3..7 (slot t needs step t + 3 written); the newest 3 are not
    assert drawable(state) == [3, 4, 5, 6, 7]


def test_prioritized_updates_raise_the_max_priority():
    state = fill(16, {}, 8)
    state = frames.update_priorities(state, jnp.array([0, 1]), jnp.array([0.5, 3.0]))
    leaves = state.tree.shape[0] // 2
    np.testing.assert_allclose(state.tree[leaves : leaves + 3], [0.5, 3.0, 1.0])
    assert float(state.max_priority) == 3.0


def test_buffers_vmap_over_runs_and_keep_frames_as_uint8():
    init = jax.vmap(lambda _: frames.init_frame_replay((84, 84), 64))(jnp.arange(2))
    assert init.storage["frame"].shape == (2, 64, 84, 84)
    assert init.storage["frame"].dtype == jnp.uint8
    frame = jnp.ones((2, 84, 84), jnp.uint8)
    added = jax.vmap(frames.add, in_axes=(0, 0, 0, 0, 0, 0, None))(
        init, frame, jnp.zeros(2, jnp.int32), jnp.ones(2), jnp.zeros(2, bool), jnp.zeros(2, bool), 3
    )
    np.testing.assert_array_equal(added.size, [1, 1])


def test_a_window_longer_than_the_buffer_is_refused():
    state = frames.init_frame_replay((2, 2), 6)
    with pytest.raises(ValueError, match="n_step must be in"):
        frames.add(state, jnp.zeros((2, 2), jnp.uint8), 0, 0.0, False, False, 3)


def test_end_episode_closes_the_newest_slot_as_a_truncation():
    # steps 0..5 in one episode, then a resumed run's environments restart mid-episode
    state = frames.end_episode(fill(16, {}, steps=6))
    ended = np.asarray(state.storage["episode_end"])
    assert ended.tolist() == [False] * 5 + [True] + [False] * 10
    assert not np.asarray(state.storage["terminal"]).any()
    add = jax.jit(frames.add, static_argnums=6)
    for t in range(6, 10):  # the new episode: frame values 7..10
        one = jnp.full((2, 2), t + 1, jnp.uint8)
        state = add(state, one, jnp.int32(t), jnp.float32(t + 1), False, False, N_STEP)
    assert stack_values(state, 6) == [0, 0, 0, 7]  # no frames of the old episode
    assert stack_values(state, 5) == [3, 4, 5, 6]
    # slot 2's window 2..4 ended before the cut and stays drawn; windows that reach slot 5
    # (3, 4, 5) are truncated and never drawn; 6 completes once 9 is written
    assert drawable(state) == [0, 1, 2, 6]
    empty = frames.end_episode(frames.init_frame_replay((2, 2), 8))
    assert not np.asarray(empty.storage["episode_end"]).any()
