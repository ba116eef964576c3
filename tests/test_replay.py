"""Replay buffers: ring order, valid-index sampling, n-step targets, sum-tree sampling,
importance weights, and jit/scan/vmap equivalence, checked against hand-computed numbers."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sparserl import replay
from sparserl.replay import prioritized, sumtree, uniform


def transition(t, reward=0.0, terminal=False, episode_end=False):
    """A transition tagged by its time step t: obs = [t, -t], next_obs = obs + 100."""
    obs = jnp.array([t, -t], jnp.float32)
    return {
        "obs": obs,
        "action": jnp.asarray(t, jnp.int32),
        "reward": jnp.asarray(reward, jnp.float32),
        "next_obs": obs + 100.0,
        "terminal": jnp.asarray(terminal),
        "episode_end": jnp.asarray(episode_end),
    }


def fill(add, state, steps, **kwargs):
    for t in steps:
        state = add(state, transition(t), **kwargs)
    return state


def sampled_set(indices):
    return set(np.asarray(indices).tolist())


def leaves(state, capacity):
    return np.asarray(sumtree.leaf_values(state.tree, jnp.arange(capacity)))


add_uniform = jax.jit(uniform.add)
add_prioritized = jax.jit(prioritized.add, static_argnames="n_step")
sample_uniform = jax.jit(uniform.sample_indices, static_argnames=("batch_size", "n_step"))
sample_prioritized = jax.jit(prioritized.sample_indices, static_argnames="batch_size")
update = jax.jit(prioritized.update_priorities)
nstep = jax.jit(replay.nstep_batch, static_argnames="n_step")
KEY = jax.random.key(0)


def test_ring_overwrites_oldest_first():
    state = fill(add_uniform, replay.init_replay(transition(0), 4), range(6))
    np.testing.assert_array_equal(state.storage["obs"][:, 0], [4, 5, 2, 3])
    np.testing.assert_array_equal(state.storage["action"], [4, 5, 2, 3])
    assert int(state.position) == 2 and int(state.size) == 4


def test_uniform_samples_only_complete_windows():
    state = replay.init_replay(transition(0), 5)
    state = fill(add_uniform, state, range(4))  # slots 0..3 written: windows of 3 fit at 0, 1
    assert sampled_set(sample_uniform(state, KEY, 2048, 3)) == {0, 1}
    state = fill(add_uniform, state, range(4, 7))  # slots hold t = 5, 6, 2, 3, 4; next write 2
    assert sampled_set(sample_uniform(state, KEY, 2048, 3)) == {2, 3, 4}
    assert sampled_set(sample_uniform(state, KEY, 2048, 1)) == {0, 1, 2, 3, 4}


# Steps 0-2: episode terminating at step 2; steps 3-4: episode truncated at step 4;
# steps 5-9: no episode end. Rewards r_t = t + 1.
TERMINAL = {2}
TRUNCATED = {4}


@pytest.fixture(scope="module")
def trajectory():
    state = replay.init_replay(transition(0), 10)
    for t in range(10):
        step = transition(
            t, reward=t + 1, terminal=t in TERMINAL, episode_end=t in TERMINAL | TRUNCATED
        )
        state = add_uniform(state, step)
    return state.storage


def test_nstep_targets_by_hand(trajectory):
    batch = nstep(trajectory, jnp.array([0, 1, 2, 3, 4, 5]), 3, 0.5)
    # i=0: 1 + .5*2 + .25*3; i=1: 2 + .5*3; i=2: 3 (all terminate at step 2, no bootstrap).
    # i=3: 4 + .5*5 truncated at 4; i=4: 5 truncated at 4; i=5: 6 + .5*7 + .25*8, no end.
    np.testing.assert_allclose(batch["return"], [2.75, 3.5, 3.0, 6.5, 5.0, 11.5])
    np.testing.assert_allclose(batch["discount"], [0.0, 0.0, 0.0, 0.25, 0.5, 0.125])
    np.testing.assert_array_equal(batch["next_obs"][:, 0], [102, 102, 102, 104, 104, 107])
    np.testing.assert_array_equal(batch["obs"][:, 0], [0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(batch["action"], [0, 1, 2, 3, 4, 5])


def test_one_step_is_the_plain_transition(trajectory):
    indices = jnp.arange(10)
    batch = nstep(trajectory, indices, 1, 0.5)
    np.testing.assert_allclose(batch["return"], trajectory["reward"])
    np.testing.assert_allclose(batch["discount"], 0.5 * (1 - trajectory["terminal"]))
    np.testing.assert_array_equal(batch["next_obs"], trajectory["next_obs"])


def test_nstep_wraps_and_takes_traced_gamma():
    state = replay.init_replay(transition(0), 4)
    for t in range(6):  # slots hold t = 4, 5, 2, 3
        state = add_uniform(state, transition(t, reward=t + 1))
    batch = jax.vmap(nstep, in_axes=(None, None, None, 0))(
        state.storage, jnp.array([3]), 3, jnp.array([0.5, 1.0])
    )
    # i=3 (t=3) reads t = 3, 4, 5 from slots 3, 0, 1.
    np.testing.assert_allclose(batch["return"][:, 0], [4 + 0.5 * 5 + 0.25 * 6, 15.0])
    np.testing.assert_allclose(batch["discount"][:, 0], [0.125, 1.0])
    np.testing.assert_array_equal(batch["next_obs"][:, 0, 0], [105, 105])


def test_newest_slots_have_zero_priority_and_only_valid_slots_are_drawn():
    state = prioritized.init_prioritized(transition(0), 5)
    state = fill(add_prioritized, state, range(4), n_step=3)
    np.testing.assert_array_equal(leaves(state, 5), [1, 1, 0, 0, 0])
    state = fill(add_prioritized, state, range(4, 7), n_step=3)  # next write at slot 2
    np.testing.assert_array_equal(leaves(state, 5), [0, 0, 1, 1, 1])
    assert sampled_set(sample_prioritized(state, KEY, 2048)[0]) == {2, 3, 4}


def test_tree_total_and_internal_nodes_are_sums():
    def check_sums(state, expected_leaves):
        prios = leaves(state, 6)
        np.testing.assert_allclose(prios, expected_leaves)
        tree = np.asarray(state.tree)
        np.testing.assert_allclose(tree[1:8], tree[2:16:2] + tree[3:16:2])
        np.testing.assert_allclose(sumtree.total(state.tree), prios.sum())

    state = prioritized.init_prioritized(transition(0), 6)  # 8 leaves, 2 of them padding
    state = fill(add_prioritized, state, range(9), n_step=3)
    # Slots hold t = 6, 7, 8, 3, 4, 5: the newest two (slots 1, 2) have priority 0.
    check_sums(state, [1.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    # Slot 3 is listed twice and takes its last value 7; invalid slot 1 stays 0.
    state = update(state, jnp.array([3, 1, 3, 0]), jnp.array([5.0, 0.25, 7.0, 2.0]))
    check_sums(state, [2.0, 0.0, 0.0, 7.0, 1.0, 1.0])
    assert float(state.max_priority) == 7.0
    # Writing slots 3 and 4 zeroes them and raises slots 1 and 2 to max_priority.
    state = fill(add_prioritized, state, range(9, 11), n_step=3)
    check_sums(state, [2.0, 7.0, 7.0, 0.0, 0.0, 1.0])


def test_updating_an_invalid_slot_leaves_it_at_zero():
    state = fill(
        add_prioritized, prioritized.init_prioritized(transition(0), 5), range(4), n_step=3
    )
    state = update(state, jnp.array([2, 0]), jnp.array([9.0, 3.0]))
    np.testing.assert_array_equal(leaves(state, 5), [3, 1, 0, 0, 0])
    assert float(state.max_priority) == 3.0


def test_sampling_frequencies_are_proportional_to_priorities():
    state = fill(
        add_prioritized, prioritized.init_prioritized(transition(0), 6), range(6), n_step=3
    )
    state = update(state, jnp.arange(4), jnp.array([1.0, 2.0, 3.0, 4.0]))
    keys = jax.random.split(jax.random.key(1), 20_000)
    indices, probs = jax.vmap(lambda k: sample_prioritized(state, k, 1))(keys)
    counts = np.bincount(np.asarray(indices).ravel(), minlength=8)
    np.testing.assert_allclose(counts / counts.sum(), [0.1, 0.2, 0.3, 0.4, 0, 0, 0, 0], atol=0.02)
    np.testing.assert_allclose(probs.ravel(), (np.asarray(indices).ravel() + 1) / 10, rtol=1e-6)


def test_stratified_sampling_takes_one_index_per_quarter():
    state = prioritized.init_prioritized(transition(0), 8)
    state = fill(add_prioritized, state, range(10), n_step=1)  # with n = 1 every slot is valid
    np.testing.assert_array_equal(leaves(state, 8), np.ones(8))
    keys = jax.random.split(jax.random.key(2), 200)
    indices, probs = jax.vmap(lambda k: sample_prioritized(state, k, 4))(keys)
    np.testing.assert_array_equal(np.asarray(indices) // 2, np.tile(np.arange(4), (200, 1)))
    np.testing.assert_allclose(probs, 1 / 8)


def test_importance_weights():
    np.testing.assert_allclose(replay.importance_weights(jnp.array([0.1, 0.4])), [1.0, 0.5])
    np.testing.assert_allclose(replay.importance_weights(jnp.array([0.1, 0.4]), 1.0), [1.0, 0.25])


N_STEP, CAPACITY, BATCH = 3, 8, 4


def run_buffer(kind, rewards, key):
    """A whole training-loop slice in one pure function: scan adds, sample, n-step, update."""
    if kind == "uniform":
        state = replay.init_replay(transition(0), CAPACITY)
    else:
        state = replay.init_prioritized(transition(0), CAPACITY)

    def step(state, t):
        ends = t % 5 == 4
        tr = transition(t, rewards[t], terminal=ends, episode_end=ends)
        if kind == "uniform":
            return uniform.add(state, tr), None
        return prioritized.add(state, tr, N_STEP), None

    state, _ = jax.lax.scan(step, state, jnp.arange(rewards.shape[0]))
    if kind == "uniform":
        indices = uniform.sample_indices(state, key, BATCH, N_STEP)
        return state, indices, replay.nstep_batch(state.storage, indices, N_STEP, 0.9)
    indices, probs = prioritized.sample_indices(state, key, BATCH)
    batch = replay.nstep_batch(state.storage, indices, N_STEP, 0.9)
    batch["weights"] = replay.importance_weights(probs)
    state = prioritized.update_priorities(state, indices, jnp.abs(batch["return"]) + 1.0)
    return state, indices, batch


@pytest.mark.parametrize("kind", ["uniform", "prioritized"])
def test_vmap_over_buffers_equals_each_buffer_alone(kind):
    rewards = jax.random.normal(jax.random.key(3), (3, 13))
    keys = jax.random.split(jax.random.key(4), 3)
    run = jax.jit(partial(run_buffer, kind))
    together = jax.jit(jax.vmap(partial(run_buffer, kind)))(rewards, keys)
    for b in range(3):
        alone = run(rewards[b], keys[b])
        for x, y in zip(jax.tree.leaves(alone), jax.tree.leaves(together), strict=True):
            np.testing.assert_allclose(x, y[b], rtol=1e-6)
