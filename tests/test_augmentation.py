"""DrQ's random shift (and Dopamine's intensity noise) on small hand-checkable images."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sparserl.agents import drq_augmentation, random_intensity, random_shift
from sparserl.agents.value.augmentation import random_offsets, shift

# One 4x4 single-channel image with distinct pixels 0..15, and a second one negated.
IMAGE = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
BATCH = np.stack([IMAGE, -IMAGE])


def test_centre_offset_is_the_identity():
    out = shift(jnp.asarray(BATCH), jnp.array([[1, 1], [1, 1]]), pad=1)
    np.testing.assert_array_equal(out, BATCH)


def test_zero_offset_moves_content_down_right_replicating_the_edges():
    out = shift(jnp.asarray(BATCH[:1]), jnp.array([[0, 0]]), pad=2)
    # padded row/column i reads source index clip(i - 2, 0, 3)
    rows = [[0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 1], [4, 4, 4, 5]]
    np.testing.assert_array_equal(out[0, ..., 0], rows)


def test_each_example_uses_its_own_offset():
    # example 0 moves up by 1 (row offset 2 with pad 1), example 1 moves left by 1
    out = shift(jnp.asarray(BATCH), jnp.array([[2, 1], [1, 2]]), pad=1)
    up = [[4, 5, 6, 7], [8, 9, 10, 11], [12, 13, 14, 15], [12, 13, 14, 15]]
    left = [[1, 2, 3, 3], [5, 6, 7, 7], [9, 10, 11, 11], [13, 14, 15, 15]]
    np.testing.assert_array_equal(out[0, ..., 0], up)
    np.testing.assert_array_equal(out[1, ..., 0], -np.asarray(left))


def test_all_channels_of_an_example_shift_together():
    stack = jnp.asarray(np.concatenate([IMAGE, IMAGE + 100], axis=-1)[None])
    out = shift(stack, jnp.array([[0, 2]]), pad=1)
    np.testing.assert_array_equal(out[..., 1], out[..., 0] + 100)


def test_random_shift_equals_shift_at_its_drawn_offsets_and_keeps_uint8():
    key = jax.random.key(3)
    frames = jax.random.randint(jax.random.key(0), (8, 84, 84, 4), 0, 256).astype(jnp.uint8)
    out = jax.jit(random_shift)(key, frames)
    assert out.shape == frames.shape and out.dtype == jnp.uint8
    np.testing.assert_array_equal(out, shift(frames, random_offsets(key, 8)))


def test_random_shift_is_vmappable_over_runs():
    frames = jnp.broadcast_to(jnp.asarray(BATCH), (3, *BATCH.shape))
    keys = jax.random.split(jax.random.key(0), 3)
    out = jax.vmap(random_shift, in_axes=(0, 0, None))(keys, frames, 1)
    for run in range(3):
        np.testing.assert_array_equal(out[run], random_shift(keys[run], frames[run], 1))


def test_offsets_are_independent_per_example():
    offsets = np.asarray(random_offsets(jax.random.key(0), 64))
    assert len({tuple(o) for o in offsets}) >= 2


def test_offsets_cover_every_shift_with_mean_pad():
    offsets = np.asarray(random_offsets(jax.random.key(1), 20_000, pad=4))
    for axis in range(2):
        assert set(offsets[:, axis].tolist()) == set(range(9))
        assert abs(offsets[:, axis].mean() - 4) < 0.1


def test_shift_rejects_non_image_batches():
    with pytest.raises(ValueError, match=r"\[B, H, W, C\]"):
        random_shift(jax.random.key(0), jnp.zeros((4, 4, 1)))
    with pytest.raises(ValueError, match="pad"):
        shift(jnp.asarray(BATCH), jnp.zeros((2, 2), jnp.int32), pad=-1)


def test_intensity_scales_each_example_by_one_factor_within_ten_percent():
    images = jnp.ones((256, 4, 4, 2), jnp.uint8) * 100
    out = np.asarray(random_intensity(jax.random.key(0), images))
    assert out.dtype == np.float32
    factors = out[:, 0, 0, 0] / 100
    np.testing.assert_allclose(out, np.broadcast_to(factors[:, None, None, None] * 100, out.shape))
    assert factors.min() >= 0.9 - 1e-6 and factors.max() <= 1.1 + 1e-6
    assert len(np.unique(factors)) > 100


def test_drq_augmentation_is_a_shift_then_an_intensity_scale():
    key = jax.random.key(5)
    frames = jax.random.randint(jax.random.key(0), (4, 12, 12, 4), 0, 256).astype(jnp.uint8)
    out = drq_augmentation(key, frames)
    shift_key, intensity_key = jax.random.split(key)
    expected = random_intensity(intensity_key, random_shift(shift_key, frames))
    np.testing.assert_allclose(out, expected)
